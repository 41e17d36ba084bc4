"""The dashboard in a real browser (headless Debian Chromium): sign in, filter the list, open a
stereo call computed by the real pipeline, check the timeline against the stored results,
seek by clicking an interruption, no console errors, and a screenshot for people to look at
(tests/artifacts/call_page.png)."""
from __future__ import annotations

import os

import pytest

from app.service import users
from tests.web.conftest import ARTIFACTS, PASSWORD, LiveServer

pytestmark = pytest.mark.services


def wait_for(driver, script: str, timeout: float = 20.0):
    """Wait until `script` returns something true; on timeout say what the page showed."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout).until(lambda d: d.execute_script(script))
    except TimeoutException:
        text = driver.execute_script("return document.body ? document.body.innerText : ''")[:1500]
        raise AssertionError(f"timed out: {script}\nat {driver.current_url}\nconsole: {driver.get_log('browser')}"
                             f"\npage: {text}") from None


def console_errors(driver) -> list[dict]:
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def results_of(db, call_id: int) -> dict:
    return {r["metric_key"]: r["result_data"] for r in db.execute(
        "SELECT metric_key, result_data FROM metric_results WHERE call_id = %s AND status = 'computed'", (call_id,))}


def test_a_team_lead_signs_in_filters_and_hears_an_interruption(computed_stereo_call, browser):
    from selenium.webdriver.common.by import By

    deps, call_id, db, new_call = computed_stereo_call
    users.create_user(db, new_call.workspace_id, "lead@harbor.test", PASSWORD, True)
    # a second call that the filter must hide
    new_call(call_identifier="other-call", transcript=[{"role": "User", "content": "hi", "start_time": 0, "end_time": 1}])
    server = LiveServer(deps.settings)
    try:
        browser.get(f"{server.url}/dashboard/")
        assert "/dashboard/sign-in" in browser.current_url  # signed out: sent to the sign-in form
        browser.find_element(By.NAME, "email").send_keys("lead@harbor.test")
        browser.find_element(By.NAME, "password").send_keys(PASSWORD)
        browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
        wait_for(browser, "return document.getElementById('calls') !== null")
        assert len(browser.find_elements(By.CSS_SELECTOR, "tr.call-row")) == 2

        search = browser.find_element(By.NAME, "q")
        search.send_keys("harbor")
        browser.find_element(By.CSS_SELECTOR, "form.filters button[type=submit]").click()
        wait_for(browser, "return document.querySelectorAll('tr.call-row').length === 1")
        os.makedirs(ARTIFACTS, exist_ok=True)
        browser.save_screenshot(os.path.join(ARTIFACTS, "calls_list.png"))
        link = browser.find_element(By.CSS_SELECTOR, "a.call-link")
        assert link.text == "harbor-dental-0042"
        link.click()
        wait_for(browser, "return document.getElementById('timeline').getAttribute('data-ready') === '1'")

        stored = db.execute("SELECT speech FROM calls WHERE id = %s", (call_id,)).fetchone()["speech"]
        results = results_of(db, call_id)
        count = lambda css: len(browser.find_elements(By.CSS_SELECTOR, css))  # noqa: E731
        assert count("rect.seg-ai") == len(stored["segments"]["ai"]) > 0
        assert count("rect.seg-user") == len(stored["segments"]["user"]) > 0
        assert count(".mark-latency") == len(results["latency_ms"]["turns"]) > 0
        assert count(".mark-interruption.int-user") == results["user_interruptions"]["count"] > 0
        assert count(".mark-interruption.int-ai") == results["ai_interruptions"]["count"]
        silences = sum(results["silence_detection"][c]["count"] for c in ("ai_channel", "user_channel"))
        assert count(".mark-silence") == silences
        assert count(".mark-stop") == len(results["stop_time_after_interruption"]["events"]) > 0
        shown_latencies = [t.get_attribute("textContent") for t in
                           browser.find_elements(By.CSS_SELECTOR, ".gap-label")]
        assert shown_latencies == [f"{t['latency_ms']} ms" for t in results["latency_ms"]["turns"]]

        # the recording is loaded through its signed link; clicking the barge-in seeks to it
        wait_for(browser, "return document.getElementById('player').readyState >= 1")
        barge = results["user_interruptions"]["interruptions"][0]
        pin = browser.find_elements(By.CSS_SELECTOR, ".mark-interruption.int-user .pin .hit")[0]
        pin.click()
        wait_for(browser, "return !document.getElementById('player').seeking")
        position = browser.execute_script("return document.getElementById('player').currentTime")
        assert abs(position - barge["at_second"]) <= 0.1
        # the transcript turn being played is highlighted
        playing = browser.find_elements(By.CSS_SELECTOR, ".turn.playing")
        assert len(playing) == 1
        start = float(playing[0].get_attribute("data-start"))
        end = float(playing[0].get_attribute("data-end"))
        assert start <= position < end

        # clicking a transcript turn seeks to its start
        turn = browser.find_elements(By.CSS_SELECTOR, "#transcript-provided .turn")[2]
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", turn)
        turn.click()
        wait_for(browser, "return !document.getElementById('player').seeking")
        position = browser.execute_script("return document.getElementById('player').currentTime")
        assert abs(position - float(turn.get_attribute("data-seek"))) <= 0.1

        # playing moves the cursor along the timeline
        x_before = float(browser.find_element(By.ID, "cursor").get_attribute("x1"))
        browser.execute_script("document.getElementById('player').play()")
        wait_for(browser, f"return document.getElementById('player').currentTime > {position + 0.5}", timeout=10)
        browser.execute_script("document.getElementById('player').pause()")
        assert float(browser.find_element(By.ID, "cursor").get_attribute("x1")) > x_before

        # zooming in widens the timeline; the custom metric's reasoning is on the page
        width = float(browser.find_element(By.ID, "timeline").get_attribute("width"))
        browser.find_element(By.ID, "zoom-in").click()
        assert float(browser.find_element(By.ID, "timeline").get_attribute("width")) > 1.9 * (width - 20)
        browser.find_element(By.ID, "zoom-fit").click()
        assert "offered Thursday afternoon" in browser.find_element(By.ID, "custom-metrics").text

        assert console_errors(browser) == []
        # the page as a developer will see it, for looking at
        os.makedirs(ARTIFACTS, exist_ok=True)
        browser.execute_script("window.scrollTo(0, 0)")
        browser.save_screenshot(os.path.join(ARTIFACTS, "call_page.png"))

        browser.get(f"{server.url}/dashboard/agents/{new_call.agent_id}")
        wait_for(browser, "return document.getElementById('agent-name') !== null")
        assert len(browser.find_elements(By.CSS_SELECTOR, "figure.chart")) >= 8  # 6 standard + 2 custom
        assert console_errors(browser) == []
        browser.save_screenshot(os.path.join(ARTIFACTS, "agent_page.png"))
    finally:
        server.close()
