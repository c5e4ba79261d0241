"""TorchScript models made hookable.

Forward hooks cannot be registered on a ScriptModule, so a TorchScript model is wrapped in a tree
of ordinary ``nn.Module`` proxies with the same module names (:class:`ScriptProxy`). A proxy runs
its scripted module's ``forward`` graph node by node in Python: submodule calls go through the
child proxy's ``__call__`` (so hooks fire), ``aten::`` nodes through ``torch.ops``,
TorchScript-compiled torch functions (``F.relu`` …) through their Python originals. A module whose
graph holds anything else runs as one opaque scripted call (it can still be explained itself, its
children cannot). Outputs are identical to the scripted module's.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import torch
from torch import nn

_PRIM_NOOP = frozenset({"prim::Print", "aten::warn"})
_PRIM_SUPPORTED = frozenset(
    {
        "prim::Constant",
        "prim::GetAttr",
        "prim::CallMethod",
        "prim::CallFunction",
        "prim::If",
        "prim::Loop",
        "prim::ListConstruct",
        "prim::TupleConstruct",
        "prim::ListUnpack",
        "prim::TupleUnpack",
        "prim::TupleIndex",
        "prim::unchecked_cast",
        "prim::Uninitialized",
        "prim::RaiseException",
        "prim::NumToTensor",
        "prim::device",
        "prim::dtype",
        "prim::min",
        "prim::max",
        "aten::__is__",
        "aten::__isnot__",
        "aten::__not__",
        "aten::Int",
        "aten::Float",
        "aten::Bool",
        "aten::size",
        "aten::dim",
        "aten::len",
        "aten::__getitem__",
        "aten::append",
        "aten::list",
        "aten::__contains__",
    }
)
_FUNCTION_PREFIXES = ("__torch__.torch.", "__torch__.torchvision.", "__torch__.timm.")


def _resolve_script_function(node) -> Any | None:
    """The Python original of a compiled torch function, e.g. torch.nn.functional.relu."""
    qualname = str(node.output().type())
    if not qualname.startswith(_FUNCTION_PREFIXES):
        return None
    import importlib

    path = qualname[len("__torch__.") :].split(".")
    for i in range(len(path) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(path[:i]))
        except ImportError:
            continue
        try:
            for attr in path[i:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return None
        return obj if callable(obj) else None
    return None


def _graph_supported(block, functions: dict) -> bool:
    for node in block.nodes():
        kind = node.kind()
        if kind == "prim::Constant" and node.output().type().kind() == "FunctionType":
            fn = _resolve_script_function(node)
            if fn is None:
                return False
            functions[node.output().debugName()] = fn
        elif kind in _PRIM_SUPPORTED or kind in _PRIM_NOOP:
            pass
        elif kind.startswith("prim::") or "::" not in kind:
            return False
        for sub in node.blocks():
            if not _graph_supported(sub, functions):
                return False
    return True


def _call_python_function(fn, args: list) -> Any:
    import inspect

    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return fn(*args)
    pos, kw = [], {}
    for p, a in zip(params, args, strict=False):
        if p.kind == p.KEYWORD_ONLY:
            kw[p.name] = a
        else:
            pos.append(a)
    return fn(*pos, **kw)


@lru_cache(maxsize=4096)
def _op_call_plan(schema_str: str):
    schema = torch._C.parse_schema(schema_str)
    ns, name = schema.name.split("::", 1)
    packet = getattr(getattr(torch.ops, ns), name)
    op = getattr(packet, schema.overload_name or "default")
    kinds = [(a.name, a.kwarg_only) for a in schema.arguments]
    return op, kinds


class ScriptProxy(nn.Module):
    """A hookable stand-in for one scripted module (see the section comment)."""

    def __init__(self, scripted: torch.jit.ScriptModule) -> None:
        super().__init__()
        object.__setattr__(self, "_scripted", scripted)
        self.original_name = getattr(scripted, "original_name", type(scripted).__name__)
        for name, child in scripted.named_children():
            self.add_module(name, ScriptProxy(child))
        self._functions: dict[str, Any] = {}
        self._methods: dict[str, Any] = {}  # method name → graph, or None when opaque
        self._interpreted = self._method_graph("forward") is not None

    def _method_graph(self, method: str):
        if method not in self._methods:
            try:
                graph = self._scripted._c._get_method(method).graph
            except RuntimeError:  # no such method
                graph = None
            if graph is not None and not _graph_supported(graph, self._functions):
                graph = None
            self._methods[method] = graph
        return self._methods[method]

    def _call_method(self, method: str, args):
        graph = self._method_graph(method)
        if graph is None:
            return getattr(self._scripted, method)(*args)
        env: dict[str, Any] = {}
        inputs = list(graph.inputs())
        env[inputs[0].debugName()] = self
        for value, arg in zip(inputs[1:], args, strict=True):
            env[value.debugName()] = arg
        outs = self._run_block(graph, env)
        return outs[0] if len(outs) == 1 else tuple(outs)

    def _apply(self, fn, recurse=True):  # .to(), .cuda(), .float() … act on the scripted module
        self._scripted._apply(fn)
        return self

    def train(self, mode: bool = True):
        self._scripted.train(mode)
        return super().train(mode)

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ):
        return self._scripted.named_parameters(prefix=prefix, recurse=recurse)

    def named_buffers(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        return self._scripted.named_buffers(prefix=prefix, recurse=recurse)

    def extra_repr(self) -> str:
        return f"{self.original_name}, {'interpreted' if self._interpreted else 'opaque'}"

    def forward(self, *args):
        if not self._interpreted:
            return self._scripted(*args)
        return self._call_method("forward", args)

    def _run_block(self, block, env: dict) -> list:
        for node in block.nodes():
            self._run_node(node, env)
        return [env[v.debugName()] for v in block.outputs()]

    def _run_node(self, node, env: dict) -> None:
        kind = node.kind()
        outputs = list(node.outputs())
        if kind == "prim::Constant":
            name = outputs[0].debugName()
            env[name] = self._functions[name] if name in self._functions else outputs[0].toIValue()
            return
        args = [env[v.debugName()] for v in node.inputs()]
        result = self._run_call(node, kind, args, env, len(outputs))
        if result is None:
            result = _python_value_op(kind, args)
        if result is None:
            result = _aten_op(node, args, len(outputs))
        for value, r in zip(outputs, result, strict=True):
            env[value.debugName()] = r

    def _run_call(self, node, kind: str, args: list, env: dict, n_out: int) -> list | None:
        """Control flow, attributes and calls (``prim::If``, ``Loop``, ``GetAttr``,
        ``CallMethod``, ``CallFunction``); None for any other node."""
        if kind == "prim::If":
            return self._run_block(list(node.blocks())[0 if args[0] else 1], env)
        if kind == "prim::Loop":
            return self._run_loop(node, args, env)
        if kind == "prim::GetAttr":
            obj, attr = args[0], node.s("name")
            if isinstance(obj, ScriptProxy):
                found = obj._modules[attr] if attr in obj._modules else getattr(obj._scripted, attr)
                return [found]
            return [getattr(obj, attr)]
        if kind == "prim::CallMethod":
            obj, method = args[0], node.s("name")
            if isinstance(obj, ScriptProxy) and method == "forward":
                result = obj(*args[1:])  # through __call__: hooks fire
            elif isinstance(obj, ScriptProxy):
                result = obj._call_method(method, args[1:])
            else:
                result = getattr(obj, method)(*args[1:])
            return [result] if n_out == 1 else list(result)
        if kind == "prim::CallFunction":
            result = _call_python_function(args[0], args[1:])
            return [result] if n_out == 1 else list(result)
        return None

    def _run_loop(self, node, args: list, env: dict) -> list:
        max_trips, cond, carried = args[0], args[1], list(args[2:])
        body = list(node.blocks())[0]
        body_inputs = list(body.inputs())
        i = 0
        while cond and i < max_trips:
            env[body_inputs[0].debugName()] = i
            for value, c in zip(body_inputs[1:], carried, strict=True):
                env[value.debugName()] = c
            outs = self._run_block(body, env)
            cond, carried = outs[0], list(outs[1:])
            i += 1
        return carried


def _python_value_op(kind: str, args: list) -> list | None:
    """The outputs of a ``prim::`` node or of an ``aten::`` node on Python values (lists,
    numbers, sizes), evaluated in Python; None for a node that is a tensor operation."""
    simple = _SIMPLE_PRIMS.get(kind)
    if simple is not None:
        return simple(args)
    if kind == "prim::RaiseException":
        raise RuntimeError(str(args[0]) if args else "TorchScript exception")
    if kind in ("prim::min", "prim::max"):
        fn = min if kind == "prim::min" else max
        return [fn(args[0]) if len(args) == 1 else fn(*args)]
    if kind in ("aten::Int", "aten::Float", "aten::Bool"):
        conv = {"aten::Int": int, "aten::Float": float, "aten::Bool": bool}[kind]
        x = args[0]
        return [conv(x.item() if isinstance(x, torch.Tensor) else x)]
    is_tensor = isinstance(args[0], torch.Tensor) if args else False
    if kind == "aten::size" and is_tensor:
        return [list(args[0].size()) if len(args) == 1 else args[0].size(args[1])]
    if kind == "aten::dim" and is_tensor:
        return [args[0].dim()]
    if kind == "aten::__getitem__" and not is_tensor:
        return [args[0][args[1]]]
    if kind == "aten::append" and isinstance(args[0], list):
        args[0].append(args[1])
        return [args[0]]
    if kind == "aten::list" and isinstance(args[0], (list, tuple)):
        return [list(args[0])]
    if kind == "aten::__contains__" and not is_tensor:
        return [args[1] in args[0]]
    if kind in _PRIM_NOOP:
        return []
    return None


_SIMPLE_PRIMS: dict[str, Any] = {
    "prim::ListConstruct": lambda args: [list(args)],
    "prim::TupleConstruct": lambda args: [tuple(args)],
    "prim::ListUnpack": lambda args: list(args[0]),
    "prim::TupleUnpack": lambda args: list(args[0]),
    "prim::TupleIndex": lambda args: [args[0][args[1]]],
    "prim::unchecked_cast": lambda args: [args[0]],
    "prim::Uninitialized": lambda args: [None],
    "prim::NumToTensor": lambda args: [torch.scalar_tensor(args[0])],
    "prim::device": lambda args: [args[0].device],
    "prim::dtype": lambda args: [args[0].dtype],
    "aten::__is__": lambda args: [args[0] is args[1]],
    "aten::__isnot__": lambda args: [args[0] is not args[1]],
    "aten::__not__": lambda args: [not args[0]],
    "aten::len": lambda args: [len(args[0])],
}


def _aten_op(node, args: list, n_out: int) -> list:
    """A tensor operation through ``torch.ops`` (its schema says which arguments are keywords)."""
    op, arg_kinds = _op_call_plan(node.schema())
    pos, kw = [], {}
    for (name, kwarg_only), a in zip(arg_kinds, args, strict=False):
        if kwarg_only:
            kw[name] = a
        else:
            pos.append(a)
    result = op(*pos, **kw)
    return [result] if n_out == 1 else list(result)
