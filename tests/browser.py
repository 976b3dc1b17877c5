"""Headless Chromium for the report tests (Debian's `chromium` and `chromium-driver` packages).

Without them a browser test skips with a reason that names the package to install; under CI (CI=true,
or MESHMEND_BROWSER_REQUIRED=1, which .ci/run sets after installing them) it fails instead.
"""
import os
import shutil
import tempfile

import pytest

# What Chromium needs on these machines: no sandbox as root, no GPU, and none of its background
# connections (the machine's closed network refuses them, many at a time).
HEADLESS_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--hide-scrollbars")


def required():
    return os.environ.get("CI", "").lower() in ("1", "true", "yes") or os.environ.get("MESHMEND_BROWSER_REQUIRED") == "1"


def _need(path, what, package):
    if path:
        return path
    msg = "no %s: install Debian's `%s` package (apt-get install %s; .ci/run does)" % (what, package, package)
    if required():
        pytest.fail(msg + ", required under CI")
    pytest.skip(msg)
    return None


def chromium():
    """Path of the Chromium binary, or skip/fail as above."""
    found = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    return _need(found, "headless browser", "chromium")


def chromedriver():
    return _need(shutil.which("chromedriver"), "chromedriver", "chromium-driver")


def flags(user_data_dir, size="1400,900"):
    return list(HEADLESS_FLAGS) + ["--user-data-dir=%s" % user_data_dir, "--window-size=%s" % size]


def webdriver(workdir, size="1400,900"):
    """A selenium Chrome driver on Debian's chromium through its chromedriver (never a downloaded one)."""
    from selenium import webdriver as wd
    from selenium.webdriver.chrome.service import Service

    binary, driver = chromium(), chromedriver()
    # Selenium Manager (which would look up and download drivers) is never needed with both paths
    # given; point it at nothing so that it could not run even if selenium changed its mind.
    os.environ["SE_MANAGER_PATH"] = os.path.join(workdir, "no-selenium-manager")
    os.environ["SE_AVOID_STATS"] = "true"
    options = wd.ChromeOptions()
    options.binary_location = binary
    profile = tempfile.mkdtemp(prefix="chromium-profile-", dir=workdir)
    for flag in flags(profile, size):
        options.add_argument(flag)
    service = Service(executable_path=driver, log_output=os.path.join(workdir, "chromedriver.log"))
    return wd.Chrome(options=options, service=service)
