"""Speech, text and keypoints -> drag commands (handles, targets, mask)."""
