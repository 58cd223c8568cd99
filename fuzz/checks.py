"""Checks of this service's own, loaded by fuzz/run beside schemathesis's built-in ones.

valid_requests_are_refused_only_for_what_the_document_cannot_state:
    a request the document calls valid (schemathesis's positive data) may be refused with
    422 only for what no schema can know: a value naming nothing the caller can reach
    (code `unknown`: an id or code of no record, a cursor the list did not issue), a
    rule between fields or with the records as they are (code `rule`, stated in the
    operation's description) or a value another record holds (`taken`). A refusal coded
    `invalid` or `required` means the document did not state a limit the server
    enforces: a finding. A sync batch's records are read one by one, so the same holds of
    each record a batch refuses (in a 207 or a 422).
"""

import schemathesis
from schemathesis.specs.openapi.checks import is_unexpected_http_status_case

# What only the rows, or a rule the schema cannot express, decide.
UNSTATABLE = {"unknown", "rule", "taken"}


@schemathesis.check
def valid_requests_are_refused_only_for_what_the_document_cannot_state(ctx, response, case):
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return None
    if is_unexpected_http_status_case(case) or response.status_code not in (207, 422):
        return None
    body = response.json()
    if isinstance(body.get("results"), list):
        # A sync batch, refused whole (422) or in part (207): each refused record carries
        # its own problem; only its invalid fields (422) are read.
        problems = [
            result["problem"]
            for result in body["results"]
            if result.get("problem") and result["problem"].get("status") == 422
        ]
        if not problems:
            return None
    else:
        problems = [body]
    errors = [error for problem in problems for error in problem.get("errors") or []]
    stated = [error for error in errors if error.get("code") not in UNSTATABLE]
    if not errors or stated:
        found = "; ".join(
            f"{error.get('pointer')}: {error.get('code')}: {error.get('detail')}" for error in stated
        ) or "; ".join(problem.get("detail", "") for problem in problems)
        raise AssertionError(
            "A request valid under the document was refused for a limit the document does "
            f"not state: {found}"
        )
    return None


# The id-valued parameters a link may fill from a response.
def _names_a_record(name):
    return name == "id" or name.endswith("_id")


NIL = "00000000-0000-0000-0000-000000000000"


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    """A stateful link may carry a null of one answer (a machine key's `account_id`, the
    `district_id` of rules common to every district) into the next request, which
    schemathesis then sends as the text `None`: no value of the parameter's type, so not
    the schema-valid request the tool takes it for. Such an id is sent as the nil UUID
    instead: a value of its type that names no record, which the service answers as the
    state it meets (404, or an empty page)."""
    for container in (case.path_parameters, case.query):
        if not container:
            continue
        for name, value in list(container.items()):
            if _names_a_record(name) and (value is None or value == "None"):
                container[name] = NIL
