"""Which of the CloudFormation template's resources a stack creates for given parameters:
its ``Conditions`` evaluated as CloudFormation evaluates them (the intrinsics the template uses)."""

from __future__ import annotations


def holds(template, condition, parameters: dict) -> bool:
    """Whether ``condition`` (a name or an intrinsic) holds for ``parameters`` (defaults filled in)."""
    values = {k: v.get("Default") for k, v in template["Parameters"].items()} | parameters

    def value(node):
        if isinstance(node, dict) and "Ref" in node:
            return values[node["Ref"]]
        if isinstance(node, dict) and "Fn::Join" in node:
            sep, items = node["Fn::Join"]
            return sep.join(value(items) if isinstance(items, dict) else items)
        return node

    def test(node) -> bool:
        if isinstance(node, str):
            return test(template["Conditions"][node])
        ((op, args),) = node.items()
        return {
            "Fn::Equals": lambda: str(value(args[0])) == str(value(args[1])),
            "Fn::Not": lambda: not test(args[0]),
            "Fn::And": lambda: all(test(a) for a in args),
            "Fn::Or": lambda: any(test(a) for a in args),
            "Condition": lambda: test(args),
        }[op]()

    return test(condition)


def deployed(template, **parameters) -> dict[str, dict]:
    """The resources the stack creates for ``parameters`` (logical id -> resource)."""
    return {
        name: r
        for name, r in template["Resources"].items()
        if "Condition" not in r or holds(template, r["Condition"], parameters)
    }
