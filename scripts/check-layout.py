#!/usr/bin/env python3
"""Checks the crate's layout rules on src/ (CI runs it; exit code 1 on a breach):

- no file over 700 lines, no function over 80 lines;
- no `cfg(feature = "burn")` outside src/burn/ but lib.rs's module declaration
  (the core knows no device backend: they match on `unisphere::plan`);
- no import cycle: among the top-level modules of src/ (a file, or a folder taken
  whole), and among the children of every folder (its mod.rs aside, which is the
  folder's front). Imports are `use` paths and `crate::` paths in code, each
  resolved to the file that defines the item (re-exports followed).

Usage: python3 scripts/check-layout.py [SRC_DIR]   (default: src)
"""
import os
import re
import sys

MAX_FILE_LINES = 700
MAX_FN_LINES = 80

ITEM = re.compile(
    r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:unsafe\s+)?(?:const\s+)?"
    r"(fn|struct|enum|trait|type|const|static|mod|union)\s+([A-Za-z_]\w*)"
)
FN = re.compile(r"^(\s*)(?:pub(?:\([^)]*\))?\s+)?(?:const\s+)?(?:unsafe\s+)?fn\s+(\w+)")
USE = re.compile(r"^\s*(pub(?:\([^)]*\))?\s+)?use\s+([^;]+);", re.S | re.M)
CRATE_PATH = re.compile(r"\bcrate(?:::[A-Za-z_]\w*)+")


def module_of(src, path):
    rel = os.path.relpath(path, src)[: -len(".rs")].split(os.sep)
    if rel[-1] in ("mod", "lib"):
        rel = rel[:-1]
    return tuple(rel)


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return "\n".join(re.sub(r"//.*", "", line) for line in text.split("\n"))


def expand_use(tree):
    """`a::{b, c::{d as e}}` -> [(['a','b'], 'b'), (['a','c','d'], 'e')]."""
    tree = re.sub(r"\s+", "", tree)
    out = []

    def walk(prefix, s):
        parts, depth, cur = [], 0, ""
        for ch in s:
            if ch == "," and depth == 0:
                parts.append(cur)
                cur = ""
                continue
            depth += ch == "{"
            depth -= ch == "}"
            cur += ch
        parts.append(cur)
        for p in filter(None, parts):
            m = re.match(r"^([^{]*?)::\{(.*)\}$", p)
            if m:
                walk(prefix + m.group(1).split("::"), m.group(2))
            elif p.startswith("{") and p.endswith("}"):
                walk(prefix, p[1:-1])
            else:
                name, _, alias = p.partition("as")
                segs = prefix + name.split("::")
                out.append((segs, alias or segs[-1]))

    walk([], tree)
    return out


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else "src"
    files = {}
    for root, _, names in os.walk(src):
        for n in names:
            if n.endswith(".rs"):
                p = os.path.join(root, n)
                files[module_of(src, p)] = p
    failures = []
    texts = {m: open(p, encoding="utf-8").read() for m, p in files.items()}

    for m, text in texts.items():
        lines = text.split("\n")
        if len(lines) - 1 > MAX_FILE_LINES:
            failures.append(f"{files[m]}: {len(lines) - 1} lines (at most {MAX_FILE_LINES})")
        for i, line in enumerate(lines):
            fm = FN.match(line)
            if not fm or line.rstrip().endswith(";"):
                continue
            j = i
            while j < len(lines) and not lines[j].rstrip().endswith("{"):
                if lines[j].rstrip().endswith(";"):
                    break
                j += 1
            if j == len(lines) or lines[j].rstrip().endswith(";"):
                continue
            k = j + 1
            while k < len(lines) and lines[k] != fm.group(1) + "}":
                k += 1
            if k - i + 1 > MAX_FN_LINES:
                failures.append(
                    f"{files[m]}:{i + 1}: fn {fm.group(2)} has {k - i + 1} lines (at most {MAX_FN_LINES})"
                )
        if m[:1] != ("burn",) and m != ():
            n = text.count('cfg(feature = "burn")')
            if n:
                failures.append(f'{files[m]}: {n} cfg(feature = "burn") outside src/burn/')
    if texts[()].count('cfg(feature = "burn")') > 1:
        failures.append(f'{files[()]}: more than the module declaration under cfg(feature = "burn")')

    # Definitions and imports (private ones too: children see them through super::).
    defs, aliases, uses = {}, {}, {}
    for m, text in texts.items():
        code = strip_comments(text)
        code = code.split("#[cfg(test)]")[0]  # test modules at the end of a file
        d = defs.setdefault(m, set())
        for line in code.split("\n"):
            im = ITEM.match(line)
            if im and not line.startswith((" ", "\t")):
                d.add(im.group(2))
        a = aliases.setdefault(m, {})
        u = uses.setdefault(m, [])
        for um in USE.finditer(code):
            for segs, alias in expand_use(um.group(2)):
                a[alias] = segs
                u.append(segs)
        for cm in CRATE_PATH.finditer(re.sub(r"^\s*(pub(\([^)]*\))?\s+)?use\s+[^;]+;", "", code, flags=re.M)):
            u.append(cm.group(0).split("::"))

    def resolve(m, segs, seen=()):
        """The file (module) defining `segs` as seen from module `m`, or None."""
        if not segs:
            return m
        head, rest = segs[0], segs[1:]
        if head == "crate":
            return resolve((), rest, seen)
        if head == "super":
            return resolve(m[:-1], rest, seen)
        if head == "self":
            return resolve(m, rest, seen)
        if m + (head,) in files:
            return resolve(m + (head,), rest, seen)
        if head in defs.get(m, ()):
            return m
        key = (m, head)
        if head in aliases.get(m, {}) and key not in seen:
            target = aliases[m][head]
            if target[0] not in ("crate", "super", "self") and m + (target[0],) not in files:
                return None  # an external crate
            return resolve(m, target + rest, seen + (key,))
        return None

    edges = set()
    for m, paths in uses.items():
        for segs in paths:
            if segs[0] not in ("crate", "super", "self"):
                if m + (segs[0],) not in files:
                    continue
            t = resolve(m, segs)
            if t is not None and t != m:
                edges.add((m, t))

    def cycles_among(units_of):
        graph = {}
        for a, b in edges:
            ua, ub = units_of(a), units_of(b)
            if ua is not None and ub is not None and ua != ub:
                graph.setdefault(ua, set()).add(ub)
        found, state = [], {}

        def dfs(u, stack):
            state[u] = 1
            stack.append(u)
            for v in sorted(graph.get(u, ())):
                if state.get(v) == 1:
                    found.append(stack[stack.index(v):] + [v])
                elif v not in state:
                    dfs(v, stack)
            stack.pop()
            state[u] = 2

        for u in sorted(graph):
            if u not in state:
                dfs(u, [])
        return found

    name = lambda u: "src/" + "/".join(u) if u else "src/lib.rs"
    for c in cycles_among(lambda m: m[:1] if m else None):
        failures.append("import cycle among top-level modules: " + " -> ".join(name(u) for u in c))
    folders = {m[:-1] for m in files if len(m) > 1} | {m for m in files if m and os.path.basename(files[m]) == "mod.rs"}
    for f in sorted(folders):
        def unit(m, f=f):
            return m[: len(f) + 1] if m[: len(f)] == f and len(m) > len(f) else None
        for c in cycles_among(unit):
            failures.append(f"import cycle in {name(f)}/: " + " -> ".join(name(u) for u in c))

    for f in failures:
        print(f)
    print(f"check-layout: {len(files)} files, {len(edges)} imports between files, {len(failures)} problems")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
