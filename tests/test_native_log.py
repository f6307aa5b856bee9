"""Native libraries' fd-2 output goes to the native log, and fd 2 is restored after (issue 16, item 4)."""

from __future__ import annotations

import os
import threading

from parsers.native_log import log_to, native_output


def test_fd_2_goes_to_the_log_inside_and_comes_back_after(tmp_path, capfd):
    log = tmp_path / "logs" / "native.log"
    log_to(log)
    try:
        with native_output():
            os.write(2, b"W0000 inference_feedback_manager.cc:121] noise\n")
            with native_output():  # nested, as a detect inside a load would be
                os.write(2, b"nested\n")
        os.write(2, b"after\n")
    finally:
        log_to(None)
    assert capfd.readouterr().err == "after\n"
    assert log.read_text() == "W0000 inference_feedback_manager.cc:121] noise\nnested\n"


def test_threads_share_one_redirect_and_fd_2_is_restored(capfd):
    log_to(None)
    barrier = threading.Barrier(4)

    def call() -> None:
        with native_output():
            barrier.wait(timeout=10)
            os.write(2, b"dropped\n")

    threads = [threading.Thread(target=call) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    os.write(2, b"visible\n")
    assert capfd.readouterr().err == "visible\n"
