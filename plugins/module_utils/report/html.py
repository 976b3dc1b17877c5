# -*- coding: utf-8 -*-
# Copyright: meshmend developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The HTML report and its SVG picture of the mesh, rendered from Jinja2 templates.

The templates are files of the collection (``templates/*.j2`` beside this module); a folder given as
``template_dir`` (the mesh_report option, the diagnose role's ``diagnose_template_dir``) is searched
first, so a template of the same name there replaces the built-in one: ``report.html.j2`` (the page),
``style.css.j2``, ``macros.html.j2``, ``root_causes.html.j2``, ``remediation.html.j2``,
``mesh.svg.j2`` (the picture), ``findings.html.j2``, ``clusters.html.j2``, ``connectivity.html.j2``.
Autoescape is on and the environment is sandboxed: every value is escaped by Jinja2, a template cannot
call into Python. Jinja2 is imported when a page is rendered (the controller always has it; a module
that only reads the argument spec does not need it).

Each template gets ``report`` (the document, see ``document.build_report``), ``docs_url``, ``title``
and the views computed here: ``picture`` (``picture.layout``), ``root_causes``, ``remediation``
(``remediation.remediation_view``), ``findings_tree`` (the other findings, ``causes.cause_tree``),
``clusters`` (one row per cluster), ``link_rows`` (links by network with a problem) and ``cases``
(connectivity test cases).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

from ansible_collections.meshmend.multicluster.plugins.module_utils.findings import SEVERITIES
from ansible_collections.meshmend.multicluster.plugins.module_utils.report.argspec import COLLECTION_DOCS_PATH
from ansible_collections.meshmend.multicluster.plugins.module_utils.report.causes import (
    AREA_TITLES, area_of, cause_tree, names_category, names_text, standalone, symptom_where, where,
)
from ansible_collections.meshmend.multicluster.plugins.module_utils.report.connectivity import sorted_cases
from ansible_collections.meshmend.multicluster.plugins.module_utils.report.picture import layout
from ansible_collections.meshmend.multicluster.plugins.module_utils.report.remediation import remediation_view
from ansible_collections.meshmend.multicluster.plugins.module_utils.report.summary import gateway_text, secrets_text

TEMPLATE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")
PAGE = "report.html.j2"
PICTURE = "mesh.svg.j2"
# A symptom group of a root cause is open in the page up to this many findings (else folded).
OPEN_GROUP = 3
_ENVIRONMENTS = {}


class TemplateError(ValueError):
    """A template folder or template that cannot be used (the message names it)."""


# Evidence shown in the page up to this many characters (the JSON report has it whole).
EVIDENCE_CHARS = 1000


def _evidence_text(evidence):
    text = json.dumps(evidence, sort_keys=True, default=str)
    if len(text) > EVIDENCE_CHARS:
        text = "%s\u2026 (%d more characters in the JSON report)" % (text[:EVIDENCE_CHARS], len(text) - EVIDENCE_CHARS)
    return text


def _f1(value):
    return "%.1f" % float(value)


# Compiled templates are kept between runs in Jinja2's cache folder for this user (made mode 0700 and checked
# by Jinja2): compiling the page's 19 templates was most of a small mesh's report time (the analysis task at 2
# clusters: 0.22 s to 0.31 s before, 0.13 s to 0.15 s after). A template is compiled again when its source, its
# path or the settings below change.
CACHE_PATTERN = "__meshmend_%s.cache"


def _bytecode_cache(settings):
    """A Jinja2 bytecode cache keyed by template path and ``settings``, or None where no cache folder can be made."""
    import hashlib
    from jinja2 import FileSystemBytecodeCache

    class MeshmendBytecodeCache(FileSystemBytecodeCache):
        def get_cache_key(self, name, filename=None):
            return hashlib.sha1(("%s|%s|%s" % (settings, name, filename)).encode("utf-8")).hexdigest()

        def dump_bytecode(self, bucket):
            try:
                super(MeshmendBytecodeCache, self).dump_bytecode(bucket)
            except OSError:
                pass  # a full or read-only disk: this run compiled the template, the next compiles it again

    try:
        hashlib.sha1(b"")  # Jinja2 checksums the sources with it; a FIPS-mode OpenSSL may refuse it
        return MeshmendBytecodeCache(pattern=CACHE_PATTERN)
    except (OSError, RuntimeError, ValueError):  # RuntimeError: a folder that is not the user's alone
        return None


def environment(template_dir=None):
    """The Jinja2 environment: ``template_dir`` (optional) first, then the built-in templates."""
    key = os.path.realpath(template_dir) if template_dir else None
    if key in _ENVIRONMENTS:
        return _ENVIRONMENTS[key]
    if key and not os.path.isdir(key):
        raise TemplateError("template_dir %s is not a directory" % template_dir)
    import jinja2
    from jinja2.sandbox import ImmutableSandboxedEnvironment
    loaders = ([jinja2.FileSystemLoader(key)] if key else []) + [jinja2.FileSystemLoader(TEMPLATE_DIR)]
    env = ImmutableSandboxedEnvironment(loader=jinja2.ChoiceLoader(loaders), autoescape=True,
                                        trim_blocks=True, lstrip_blocks=True)
    # What the compiled code depends on besides the source (Jinja2 checks its own bytecode format and Python's).
    env.bytecode_cache = _bytecode_cache("%s %s %s %s %s" % (
        type(env).__name__, jinja2.__version__, env.autoescape, env.trim_blocks, env.lstrip_blocks))
    env.filters.update(evidence=_evidence_text, f1=_f1, where=where, area_title=lambda a: AREA_TITLES.get(a, a),
                       area_of=area_of, names=names_text, symptom_where=symptom_where,
                       names_category=names_category)
    _ENVIRONMENTS[key] = env
    return env


def _render(name, context, template_dir=None):
    import jinja2
    try:
        return environment(template_dir).get_template(name).render(**context)
    except jinja2.TemplateError as e:
        # a syntax error names the template it is in (an included one), with its line
        where = getattr(e, "name", None) or name
        if getattr(e, "lineno", None):
            where += " line %d" % e.lineno
        raise TemplateError("template %s%s: %s: %s" % (
            where, " (template_dir %s)" % template_dir if template_dir else "", type(e).__name__, e))


def _root_causes(report):
    by_key = dict((f["key"], f) for f in report["findings"])
    out = []
    for rc in report.get("root_causes") or []:
        groups = []
        for s in rc["symptoms"]:
            groups.append(dict(s, open=s["count"] <= OPEN_GROUP,
                               findings=[by_key[k] for k in s["keys"] if k in by_key]))
        out.append(dict(rc, finding=by_key.get(rc["key"], rc), groups=groups))
    return out


def _cluster_rows(report):
    rows = []
    by_cluster = report["summary"]["by_cluster"]
    for name in report["clusters"]["in_play"]:
        f = report["facts"][name]
        roots = f.get("roots") or {}
        bc = by_cluster.get(name, {})
        rows.append({"name": name, "reachable": f["reachable"], "network": f.get("network") or "-",
                     "cluster_id": f.get("cluster_id") or "-", "mesh_id": f.get("mesh_id") or "-",
                     "role": f.get("role") or "-", "istiod": (f.get("istiod") or {}).get("version") or "-",
                     "gateway": gateway_text(f), "secrets": secrets_text(f),
                     "root": roots.get("ca_root_cert") or roots.get("cacerts_root") or "-",
                     "errors": bc.get("error", 0), "warnings": bc.get("warning", 0),
                     "requests": f.get("requests"), "duration_s": f.get("duration_s")})
    return rows


def _cases(report):
    return [{"status": str(c.get("status")), "test": str(c.get("classname") or "").replace("connectivity.", ""),
             "pair": str(c.get("name")).replace("->", "\u2192"),
             "text": " ".join(str(c.get("message") or "").split())[:400],
             "output": str(c["output"])[:600] if c.get("output") and c.get("status") != "passed" else None}
            for c in sorted_cases(report)]


def _context(report, docs_url, title):
    s = report["summary"]
    return {
        "report": report, "docs_url": docs_url, "title": title, "severities": SEVERITIES,
        "counts": s["counts"], "verdict": "fails" if report["failed"] else "passes",
        "picture": layout(report),
        "root_causes": _root_causes(report),
        "remediation": remediation_view(report["remediation"]) if report.get("remediation") else None,
        "findings_tree": cause_tree(standalone(report)),
        "clusters": _cluster_rows(report),
        "link_rows": ((report.get("model") or {}).get("link_summary") or {}).get("by_network") or [],
        "cases": _cases(report),
    }


def render_svg(report, template_dir=None):
    """The mesh picture alone (an SVG document)."""
    return _render(PICTURE, {"picture": layout(report)}, template_dir)


def render_html(report, docs_url=COLLECTION_DOCS_PATH, title="meshmend diagnosis", template_dir=None):
    """One self-contained page: no script, no external asset."""
    return _render(PAGE, _context(report, docs_url, title), template_dir)
