"""Playbook runs of the remediate integration tests, each scanned for credentials right after it ran.

``scanned_playbook(lab, name, inventories, report_dir, *other_dirs, **playbook_kwargs)`` is
remediate_helpers.playbook plus leakcheck.assert_no_secrets over the run's output (stderr is merged
into it) and its report dir(s). The lab's credentials are read again after the run, because a
remediation may mint a reader token or write a remote secret; those read before are kept too.
"""
from leakcheck import assert_no_secrets, lab_secrets
from remediate_helpers import playbook


def scanned_playbook(lab, name, inventories, report_dir, *other_dirs, **kwargs):
    rc, out = playbook(name, inventories, report_dir, **kwargs)
    known = list(lab_secrets(lab))
    lab_secrets(lab, refresh=True)
    assert_no_secrets(lab, out, str(report_dir), *[str(d) for d in other_dirs], extra=known)
    return rc, out
