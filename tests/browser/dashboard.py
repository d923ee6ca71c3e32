"""The dashboard in a real browser (Debian's headless Chromium through chromedriver): sign in,
create a webhook through the form (a validation error shown at its field first), edit, pause
and enable it (what was held meanwhile is released), publish an event over the API with markup in its data, watch the delivery and its attempt appear, replay
it, read the overview, the audit trail and a read-only token's view. Fails on any console
error but the one 422 the form provokes, and on any script the event data could run.
Screenshots of every page go to SCREENSHOTS.

Environment: HOOKLINE_URL, ADMIN_TOKEN, READER_TOKEN, API_KEY, RECEIVER_URL, SCREENSHOTS."""
import json
import os
import time
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

URL = os.environ["HOOKLINE_URL"].rstrip("/") + "/"
SHOTS = os.environ["SCREENSHOTS"]
MARKUP = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'


def browser():
    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1100"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


class Dashboard:
    def __init__(self, driver):
        self.driver = driver
        self.console = []

    def wait(self, condition, what, seconds=15):
        def settled(driver):
            try:
                return condition(driver)
            except StaleElementReferenceException:
                return False  # the page re-rendered under the check; look again
        try:
            return WebDriverWait(self.driver, seconds, poll_frequency=0.1).until(settled)
        except TimeoutException:
            self.shot("failed")
            raise AssertionError(f"timed out waiting for {what}; page: {self.driver.find_element(By.TAG_NAME, 'main').text[:2000]}")

    def css(self, selector, what=None):
        return self.wait(lambda d: d.find_element(By.CSS_SELECTOR, selector) if d.find_elements(By.CSS_SELECTOR, selector) else None,
                         what or selector)

    def text_in(self, selector, text, seconds=15):
        return self.wait(lambda d: any(text in e.text for e in d.find_elements(By.CSS_SELECTOR, selector)), f"{text!r} in {selector}", seconds)

    def go(self, hash_):
        self.driver.get(URL + hash_)

    def shot(self, name):
        os.makedirs(SHOTS, exist_ok=True)
        self.driver.save_screenshot(os.path.join(SHOTS, f"{name}.png"))

    def drain_console(self, allowed=()):
        """Fails on console errors, except those mentioning one of `allowed` once each."""
        left = list(allowed)
        for entry in self.driver.get_log("browser"):
            self.console.append(entry)
            if entry["level"] not in ("SEVERE", "ERROR"):
                continue
            match = next((a for a in left if a in entry["message"]), None)
            assert match is not None, f"console error: {entry['message']}"
            left.remove(match)

    def sign_in(self, token):
        self.go("")
        field = self.css("#token")
        self.shot("01-sign-in")
        field.send_keys(token)
        self.css("#sign-in").click()
        self.css("#tiles", "the overview after signing in")

    def no_script_ran(self):
        assert self.driver.execute_script("return window.__xss === undefined"), "markup in event data ran"
        assert not self.driver.find_elements(By.CSS_SELECTOR, "main img"), "markup in event data became an element"


def publish(full_name):
    body = {"event_type": "customer.created",
            "data": {"id": 7, "portal_id": "100007", "full_name": full_name, "email": "x@example.com"}}
    request = urllib.request.Request(URL + "api/v1/events", data=json.dumps(body).encode(), method="POST",
                                     headers={"content-type": "application/json", "x-api-key": os.environ["API_KEY"]})
    with urllib.request.urlopen(request) as response:
        assert response.status == 202, response.status
        return json.load(response)


def main():
    driver = browser()
    page = Dashboard(driver)
    try:
        page.sign_in(os.environ["ADMIN_TOKEN"])
        page.shot("02-overview-empty")
        page.drain_console()

        page.go("#/webhooks")
        page.css("#new-webhook").click()
        page.css("#field-name").send_keys("CRM sync")
        page.css("#field-url").send_keys("not a url")
        page.css("#field-events").send_keys("customer.*")
        page.css("#save-webhook").click()
        page.text_in("#error-url", "url")
        page.shot("03-webhook-invalid-url")
        page.drain_console(allowed=["422"])
        url = page.css("#field-url")
        url.clear()
        url.send_keys(os.environ["RECEIVER_URL"])
        page.css("#save-webhook").click()
        page.text_in(".notice.ok", "signing secret")
        page.shot("04-webhook-created")
        page.go("#/webhooks")
        page.text_in("main table", "CRM sync")
        page.shot("05-webhooks")

        published = publish(MARKUP)
        assert published["deliveries"] == 1, published
        page.go("#/deliveries")
        row = page.css("#deliveries tbody tr[data-id]", "the delivery in the log")
        page.wait(lambda d: refreshed_status(page, "succeeded"), "the delivery to succeed")
        page.shot("06-deliveries")
        page.css("#deliveries tbody tr[data-id]").click()
        page.wait(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#attempts tbody tr")) == 1, "its attempt")
        page.text_in("#attempts", "200")
        assert MARKUP.replace('"', '\\"') in page.css("#payload").text, page.css("#payload").text
        page.no_script_ran()
        page.shot("07-delivery")
        page.css("#replay").click()
        page.text_in("#delivery-message", "Replayed")
        page.wait(lambda d: two_attempts(page), "the replay's attempt", seconds=20)
        page.no_script_ran()
        page.shot("08-delivery-replayed")

        page.go("#/overview?range=1h")
        page.wait(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".chart canvas")) == 3, "three charts")
        page.text_in("#tiles", "100.0 %")
        page.shot("09-overview")

        page.go("#/webhooks")
        page.css("main table a[href^='#/webhooks/wh_']").click()
        page.css("#send-test").click()
        page.text_in(".notice.ok", "Test delivered")
        page.css("#rotate-secret").click()
        page.text_in(".notice.ok", "New signing secret")
        page.shot("10-webhook-actions")
        page.css("#field-description").send_keys("Customer events for the CRM")
        page.css("#save-webhook").click()
        page.text_in(".notice.ok", "Saved")
        assert page.css("#field-description").get_attribute("value") == "Customer events for the CRM"

        # Paused, a new event is held; enabled again, it is released and delivered.
        page.css("#pause").click()
        page.text_in(".notice.ok", "Paused")
        page.text_in("main .badge", "paused")
        publish("Held Customer")
        page.css("a[href*='status=held']").click()
        page.wait(lambda d: any(b.text == "held" for b in d.find_elements(By.CSS_SELECTOR, "#deliveries .badge")), "the held delivery")
        page.shot("11-held-deliveries")
        page.css("#deliveries tbody tr[data-id] td:nth-child(4)")
        webhook_id = page.css("#filter-webhook").get_attribute("value")
        page.go(f"#/webhooks/{webhook_id}")
        page.css("#enable").click()
        page.text_in(".notice.ok", "Enabled")
        page.go(f"#/deliveries?webhook_id={webhook_id}&status=succeeded")
        page.wait(lambda d: succeeded_rows(page) == 3, "the released delivery to succeed (beside the first and the test ping)", seconds=20)

        page.go("#/audit")
        page.text_in("main table", "webhook.create")
        page.text_in("main table", "delivery.replay")
        page.shot("12-audit")
        page.drain_console()

        page.css("#sign-out").click()
        page.sign_in(os.environ["READER_TOKEN"])
        assert not [a for a in driver.find_elements(By.CSS_SELECTOR, "#nav a[data-page=audit]") if a.is_displayed()], "audit for a reader"
        page.go("#/webhooks")
        page.text_in("main table", "CRM sync")
        assert not driver.find_elements(By.CSS_SELECTOR, "#new-webhook"), "a reader sees no New webhook"
        page.css("main table a[href^='#/webhooks/wh_']").click()
        page.css("#webhook-form")
        assert not driver.find_elements(By.CSS_SELECTOR, "#webhook-actions, #save-webhook"), "a reader sees no actions"
        page.shot("13-reader-webhook")
        page.go("#/deliveries")
        page.css("#deliveries tbody tr[data-id]").click()
        page.css("#attempts")
        assert not driver.find_elements(By.CSS_SELECTOR, "#replay, #acknowledge"), "a reader sees no replay"
        page.shot("14-reader-delivery")
        page.drain_console()
        print(f"dashboard checked: {len(os.listdir(SHOTS))} screenshots, {len(page.console)} console entries")
    finally:
        driver.quit()


def refreshed_status(page, status):
    page.driver.refresh()
    page.css("#deliveries tbody tr[data-id]")
    return page.driver.find_element(By.CSS_SELECTOR, "#deliveries tbody tr[data-id] .badge").text == status


def succeeded_rows(page):
    page.driver.refresh()
    page.css("#delivery-filter")
    return len(page.driver.find_elements(By.CSS_SELECTOR, "#deliveries tbody tr[data-id]"))


def two_attempts(page):
    page.driver.refresh()
    page.css("#attempts")
    return len(page.driver.find_elements(By.CSS_SELECTOR, "#attempts tbody tr")) == 2


if __name__ == "__main__":
    main()
