# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Work done once in Ansible's main process so that each forked worker does not do it again.

Ansible's strategy imports a task's action plugin in its main process before it forks a worker per host,
and each worker is a copy of the main process at that moment. A worker that templates a task argument or
a ``when`` first loads every builtin Jinja filter and test (imports, regular expressions) and builds
Jinja's lexer (more regular expressions): two thirds of the CPU of a worker whose task is skipped, paid
again by each of a run's hundreds of workers because the main process has not done it yet (ansible-core
notes the same about its lexer: "we should pre-generate the default cached lexer before forking"). Done
once here, at import, every later worker inherits them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.plugins.loader import filter_loader, test_loader


def load_template_plugins():
    """Load the builtin Jinja filters and tests, and build the default lexer, in this process's caches.
    Only speed: never an error."""
    try:
        for loader in (filter_loader, test_loader):
            list(loader.all())
        # the lexer: ansible-core 2.19 and later (trust_as_template); earlier versions stop here, with the plugins loaded
        from ansible.parsing.dataloader import DataLoader
        from ansible.template import Templar, trust_as_template
        Templar(loader=DataLoader()).evaluate_conditional(trust_as_template("(none | default(none)) is none and true | bool"))
    except Exception:  # pylint: disable=broad-except
        pass
