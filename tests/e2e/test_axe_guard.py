"""The accessibility check can fail: axe-core, as injected by the tests, reports a broken page."""

import pytest


def test_axe_reports_a_page_that_breaks_wcag(new_context, axe):
    page = new_context().new_page()
    page.set_content("<!doctype html><html><head><title>x</title></head><body>"
                     "<img src='data:,'><form><input name='q'></form>"
                     "<p style='color:#aaa;background:#fff'>faint text</p></body></html>")
    with pytest.raises(AssertionError) as failed:
        axe(page, "a broken page")
    for rule in ("html-has-lang", "image-alt", "label", "color-contrast"):
        assert rule in str(failed.value)
