#!/usr/bin/env python3
"""Drives the dsa-triage review UI in a real browser (Debian's chromium + chromedriver, headless, Selenium).

Given a base URL and a reviewer's credentials it: checks that an unauthenticated request goes to /login,
signs in, finds the expected review case at the top of the worklist, opens it and adjudicates it with the
keyboard only (including a comment holding a <script> tag), checks the dashboard's "reviewed" count went
up by one, checks the comment is shown escaped, that a form post without the CSRF token is refused, and that
the reviewer cannot open the admin pages. Screenshots go to the artifacts folder. Exit status 0 when every
check passes, 1 with a message naming the failed check otherwise, 77 when Selenium/chromium is missing.

    python3 tests/browser/review_ui.py --base-url http://127.0.0.1:8042 --name rev.one \
        --password-file pw.txt --expect-first-case 13 --artifacts out/
"""
import argparse
import http.client
import os
import shutil
import sys
import urllib.parse

SKIP = 77

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:
    print("SKIP: selenium is not installed (pip install selenium)")
    sys.exit(SKIP)


class CheckFailed(Exception):
    pass


def check(condition, message):
    if not condition:
        raise CheckFailed(message)
    print("ok   " + message)


def raw_request(base, method, path, cookie=None, body=None):
    """One HTTP request without following redirects: (status, location, body text)."""
    url = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=10)
    headers = {}
    if cookie:
        headers["Cookie"] = cookie
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    text = response.read().decode("utf-8", "replace")
    conn.close()
    return response.status, response.getheader("Location"), text


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--password-file", required=True)
    parser.add_argument("--expect-first-case", required=True, type=int)
    parser.add_argument("--artifacts", required=True)
    args = parser.parse_args()
    base = args.base_url.rstrip("/")
    with open(args.password_file, encoding="utf-8") as f:
        password = f.read().rstrip("\r\n")
    os.makedirs(args.artifacts, exist_ok=True)

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not chromium or not driver_path:
        print("SKIP: chromium or chromedriver missing (apt-get install chromium chromium-driver)")
        return SKIP
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,1000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    wait = WebDriverWait(driver, 15)

    def shot(name):
        driver.save_screenshot(os.path.join(args.artifacts, name + ".png"))

    def keys(*sequence):
        """Keystrokes to whatever has the focus (the page body unless a field is focused): no mouse."""
        webdriver.ActionChains(driver).send_keys(*sequence).perform()

    def reviewed_count():
        driver.get(base + "/dashboard")
        return int(wait.until(EC.presence_of_element_located((By.ID, "dash-reviewed"))).text)

    try:
        # Unauthenticated: the browser lands on the sign-in page; a raw request gets 303 to /login.
        driver.get(base + "/worklist")
        wait.until(EC.presence_of_element_located((By.ID, "login-form")))
        check(urllib.parse.urlsplit(driver.current_url).path == "/login", "unauthenticated /worklist goes to /login")
        for path in ("/worklist", "/cases/%d" % args.expect_first_case, "/dashboard"):
            status, location, _ = raw_request(base, "GET", path)
            check(status == 303 and (location or "").startswith("/login"), "unauthenticated %s answers 303 to /login" % path)
        shot("01-login")

        # Sign in with the keyboard.
        driver.find_element(By.ID, "name").send_keys(args.name)
        driver.find_element(By.ID, "password").send_keys(password + Keys.ENTER)
        wait.until(EC.presence_of_element_located((By.ID, "worklist")))
        check(urllib.parse.urlsplit(driver.current_url).path == "/worklist", "signed in, on the worklist")
        before = reviewed_count()

        driver.get(base + "/worklist")
        rows = wait.until(EC.presence_of_all_elements_located((By.CSS_SELECTOR, "#worklist tbody tr")))
        first = rows[0]
        check(first.get_attribute("id") == "case-%d" % args.expect_first_case, "the review case is at the top of the worklist")
        check("selected" in first.get_attribute("class"), "the first row is selected for the keyboard")
        check("manual review" in first.text, "the top row is a manual-review case")
        keys("j")
        check("selected" in rows[1].get_attribute("class"), "j moves down")
        keys("k")
        check("selected" in rows[0].get_attribute("class"), "k moves back up")
        shot("02-worklist")

        # Open it and adjudicate with the keyboard only: Enter, b, c, the comment, Enter.
        keys(Keys.ENTER)
        wait.until(EC.presence_of_element_located((By.ID, "verdict-form")))
        case_path = "/cases/%d" % args.expect_first_case
        check(urllib.parse.urlsplit(driver.current_url).path == case_path, "Enter opens the case")
        check(driver.find_element(By.ID, "pchart").is_displayed(), "P(blocked) chart drawn")
        image = driver.find_element(By.ID, "model-image")
        check(driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", image), "model image loaded")
        shot("03-case")
        comment = "<script>window.__xss = 1;</script> blocked, seen in keyboard test"
        keys("b")
        check(driver.find_element(By.ID, "verdict-blocked").is_selected(), "b chooses blocked")
        keys("c")
        check(driver.switch_to.active_element.get_attribute("id") == "comment", "c focuses the comment")
        keys(comment)
        keys(Keys.ENTER)
        wait.until(lambda d: urllib.parse.urlsplit(d.current_url).path != case_path)
        check(urllib.parse.urlsplit(driver.current_url).path.startswith("/cases/") or driver.current_url.endswith("/worklist"),
              "after the verdict the next case (or the worklist) is shown")
        shot("04-next-case")

        after = reviewed_count()
        check(after == before + 1, "dashboard reviewed count went from %d to %d" % (before, after))
        shot("05-dashboard")

        # The comment is shown as text, not run.
        driver.get(base + case_path)
        shown = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#verdicts q.comment")))
        check(shown.text == comment, "the <script> comment is shown as text")
        check(driver.execute_script("return window.__xss === undefined"), "the comment's script did not run")
        check("&lt;script&gt;window.__xss" in driver.page_source, "the comment is escaped in the HTML")
        shot("06-escaped-comment")

        # A form post without the CSRF token is refused: in the browser (a form built in the page) and raw.
        session = driver.get_cookie("dsa_session")
        check(session is not None and session.get("httpOnly") is True, "session cookie is HttpOnly")
        check(session.get("sameSite") == "Strict", "session cookie is SameSite=Strict")
        cookie = "dsa_session=" + session["value"]
        driver.execute_script(
            "var f = document.createElement('form'); f.method = 'post'; f.action = arguments[0];"
            "var i = document.createElement('input'); i.name = 'verdict'; i.value = 'patent'; f.appendChild(i);"
            "document.body.appendChild(f); f.submit();", case_path + "/verdict")
        heading = wait.until(EC.presence_of_element_located((By.TAG_NAME, "h1")))
        check(heading.text == "Form refused", "a browser form post without the CSRF token is refused")
        shot("07-csrf-refused")
        status, _, _ = raw_request(base, "POST", case_path + "/verdict", cookie=cookie, body="verdict=patent")
        check(status == 403, "a post without the CSRF token answers 403")

        # A reviewer cannot open the admin pages.
        for path in ("/admin/users", "/admin/alerts"):
            driver.get(base + path)
            heading = wait.until(EC.presence_of_element_located((By.TAG_NAME, "h1")))
            check(heading.text == "Admins only", "the reviewer is refused %s" % path)
            status, _, _ = raw_request(base, "GET", path, cookie=cookie)
            check(status == 403, "%s answers 403 to a reviewer" % path)
        shot("08-admin-refused")

        # Log out; the worklist then sends the browser to /login.
        driver.get(base + "/worklist")
        wait.until(EC.element_to_be_clickable((By.ID, "logout"))).click()
        wait.until(EC.presence_of_element_located((By.ID, "login-form")))
        driver.get(base + "/worklist")
        wait.until(EC.presence_of_element_located((By.ID, "login-form")))
        check(urllib.parse.urlsplit(driver.current_url).path == "/login", "after logout /worklist goes to /login")
        print("all browser checks passed")
        return 0
    except CheckFailed as failure:
        shot("failure")
        print("FAIL " + str(failure))
        return 1
    except Exception as error:  # a timeout or a missing element is a failed check, with a screenshot
        shot("failure")
        print("FAIL %s: %s (at %s)" % (type(error).__name__, error, driver.current_url))
        return 1
    finally:
        driver.quit()


if __name__ == "__main__":
    sys.exit(main())
