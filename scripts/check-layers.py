#!/usr/bin/env python3
"""Checks the backend's floors, that the backend and the SPA have no import
circle, and the size limits of every crate.

Reads the `crate::` and `super::` paths of every backend source file (use
lines and paths in code alike), resolves `pub use` re-exports to the file that
defines the item, and fails when:

  * two backend modules (files) import each other, directly or in a circle;
    the same for the SPA's modules (frontend/src), which has no floors;
  * a module imports from a floor above its own, unless the import is listed
    in ALLOWED_UPWARD (each with its reason in docs/architecture.md);
  * any .rs file in the workspace is over 700 lines, or any function over 100.

Run: python3 scripts/check-layers.py        (scripts/test.sh runs it)
     python3 scripts/check-layers.py --graph   also prints every edge
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "backend", "src")
MAX_FILE_LINES = 700
MAX_FN_LINES = 100

# Floors, top to bottom. A module may import from its own floor (without a
# circle) and from any floor below it.
FLOORS = [
    ["main", "lib", "cli"],
    ["http"],
    ["state"],
    ["auth"],
    ["replica"],
    ["store"],
    ["config", "domain", "error", "clock", "telemetry"],
]
# (from module, to module) imports that point up, each explained in
# docs/architecture.md under "Upward imports".
ALLOWED_UPWARD = set()


def module_of(path, src):
    rel = os.path.relpath(path, src)[:-3].split(os.sep)
    if rel[-1] == "mod":
        rel = rel[:-1]
    return tuple(rel)


def clean(text):
    """The source with comments, strings and char literals blanked out; line
    breaks are kept so line numbers stay right."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        two = text[i:i + 2]
        if two == "//":
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif two == "/*":
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("\n" * text.count("\n", i, j))
            i = j
        elif c == "r" and re.match(r'r#*"', text[i:i + 8]) and not (i and (text[i - 1].isalnum() or text[i - 1] == "_")):
            hashes = len(re.match(r'r(#*)"', text[i:]).group(1))
            end = text.find('"' + "#" * hashes, i + 2 + hashes)
            j = n if end < 0 else end + 1 + hashes
            out.append('""' + "\n" * text.count("\n", i, j))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append('""' + "\n" * text.count("\n", i, j))
            i = j + 1
        elif c == "'":
            m = re.match(r"'(?:\\(?:u\{[0-9a-fA-F]+\}|x..|.)|[^'\\\n])'", text[i:i + 12])
            if m:
                out.append("' '")
                i += len(m.group(0))
            else:
                out.append(c)  # a lifetime
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def expand_use(body):
    """`a::{b, c::{d, e}}` -> ["a::b", "a::c::d", "a::c::e"]."""
    body = re.sub(r"\s+", "", body)
    m = re.match(r"^([^{]*)\{(.*)\}$", body)
    if not m:
        return [re.sub(r"as\w+$", "", body)]
    prefix, inner = m.group(1), m.group(2)
    parts, depth, cur = [], 0, ""
    for ch in inner:
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        depth += ch == "{"
        depth -= ch == "}"
        cur += ch
    if cur:
        parts.append(cur)
    out = []
    for p in parts:
        for e in expand_use(p):
            out.append(prefix + e if e != "self" else prefix.rstrip(":"))
    return out


def import_graph(src, root):
    """The modules (files) of the crate under `src` and, for each, the modules
    its paths point to. `root` is the crate root's module (`lib`, `main`)."""
    files = {}
    for d, _, names in os.walk(src):
        for n in names:
            if n.endswith(".rs"):
                p = os.path.join(d, n)
                files[module_of(p, src)] = clean(open(p).read())
    mods = set(files)

    def absolute(mod, path):
        segs = path.split("::")
        if segs[0] == "crate":
            return segs[1:]
        base = list(mod)
        if segs[0] in ("self", "super"):
            while segs and segs[0] in ("self", "super"):
                if segs[0] == "super":
                    base = base[:-1]
                segs = segs[1:]
            return base + segs
        return None

    # Re-exports: (module, name) -> full path it stands for.
    reexports = {}
    for mod, text in files.items():
        for m in re.finditer(r"\bpub(?:\([^)]*\))?\s+use\s+([^;]+);", text):
            for p in expand_use(m.group(1)):
                segs = p.split("::")
                if segs[0] not in ("crate", "self", "super") and (mod + (segs[0],)) in mods:
                    segs = ["self"] + segs
                full = absolute(mod, "::".join(segs))
                if full:
                    alias = re.search(r"as(\w+)$", m.group(1).replace(" ", ""))
                    reexports[(mod, full[-1])] = full

    def resolve(segs, depth=0):
        """Deepest module file a path lands in, following re-exports."""
        best, i = (), 0
        for i in range(1, len(segs) + 1):
            if tuple(segs[:i]) in mods:
                best = tuple(segs[:i])
            else:
                break
        rest = segs[len(best):]
        if rest and depth < 8 and (best, rest[0]) in reexports:
            return resolve(reexports[(best, rest[0])] + rest[1:], depth + 1)
        return best

    def inline_depths(text):
        """For each `mod name {` block: (start, end) offsets in `text`."""
        spans = []
        for m in re.finditer(r"\bmod\s+\w+\s*\{", text):
            depth, i = 0, m.end() - 1
            while i < len(text):
                depth += {"{": 1, "}": -1}.get(text[i], 0)
                if depth == 0:
                    break
                i += 1
            spans.append((m.start(), i))
        return spans

    def in_file(mod, spans, pos, path):
        """`path` as seen from an inline module at `pos`: its first
        `super`s stay inside the file."""
        depth = sum(1 for a, b in spans if a < pos < b)
        segs = path.split("::")
        while depth and segs and segs[0] == "super":
            segs, depth = segs[1:], depth - 1
        if not segs:
            return None
        if segs[0] not in ("crate", "super", "self") and not path.startswith("crate"):
            segs = ["self"] + segs
        return "::".join(segs)

    edges = {}
    for mod, text in files.items():
        spans = inline_depths(text)
        targets = set()
        for m in re.finditer(r"\b(?:pub(?:\([^)]*\))?\s+)?use\s+([^;]+);", text):
            if m.group(0).startswith("pub"):
                continue  # a re-export is a door, not a dependency
            for p in expand_use(m.group(1)):
                segs = p.split("::")
                if segs[0] not in ("crate", "self", "super") and (mod + (segs[0],)) not in mods:
                    continue  # another crate, or a name from the file itself
                if segs[0] == "super":
                    p = in_file(mod, spans, m.start(), p)
                    if p is None:
                        continue
                    segs = p.split("::")
                elif segs[0] not in ("crate", "self"):
                    segs = ["self"] + segs
                full = absolute(mod, "::".join(segs))
                if full:
                    targets.add(resolve(full))
        code = re.sub(r"\b(?:pub(?:\([^)]*\))?\s+)?use\s+[^;]+;", lambda u: " " * len(u.group(0)), text)
        for m in re.finditer(r"(?<![\w:])((?:crate|super|\w+)(?:::\w+)+)", code):
            p = m.group(1)
            first = p.split("::")[0]
            if first == "super":
                p = in_file(mod, spans, m.start(), p)
                if p is None or p.startswith("self::") and p.count("::") == 0:
                    continue
            elif first != "crate":
                if (mod + (first,)) not in mods and not (mod == root and (first,) in mods):
                    continue
                p = "crate::" + p if mod == root else "self::" + p
            full = absolute(mod, p)
            if full:
                targets.add(resolve(full))
        targets.discard(mod)
        targets.discard(())
        edges[mod] = targets
    return mods, edges


def main():
    mods, edges = import_graph(SRC, ("lib",))

    def floor(mod):
        for i, names in enumerate(FLOORS):
            if mod and mod[0] in names:
                return i
        return None

    problems = []
    for mod in sorted(mods):
        if mod and floor(mod) is None:
            problems.append(f"{'::'.join(mod)}: on no floor (add it to FLOORS)")
    for mod, ts in sorted(edges.items()):
        for t in sorted(ts):
            fm, ft = floor(mod), floor(t)
            if fm is not None and ft is not None and ft < fm:
                key = ("::".join(mod), "::".join(t))
                if key not in ALLOWED_UPWARD:
                    problems.append(f"upward import: {key[0]} -> {key[1]}")

    problems += circles(edges, "")
    # The SPA has no floors, but no circle either.
    _, spa_edges = import_graph(os.path.join(ROOT, "frontend", "src"), ("main",))
    problems += circles(spa_edges, "frontend: ")

    # Sizes, in every crate.
    for crate in ("backend", "frontend", "shared", "tests"):
        for d, _, names in os.walk(os.path.join(ROOT, crate)):
            if "/target" in d:
                continue
            for n in names:
                if not n.endswith(".rs"):
                    continue
                p = os.path.join(d, n)
                lines = open(p).read().splitlines()
                rel = os.path.relpath(p, ROOT)
                if len(lines) > MAX_FILE_LINES:
                    problems.append(f"{rel}: {len(lines)} lines (at most {MAX_FILE_LINES})")
                for start, name, length in functions(lines):
                    if length > MAX_FN_LINES:
                        problems.append(f"{rel}:{start}: fn {name} is {length} lines (at most {MAX_FN_LINES})")

    if "--graph" in sys.argv:
        for mod, ts in sorted(edges.items()):
            print("::".join(mod) or "crate", "->", ", ".join(sorted("::".join(t) for t in ts)))
    for p in problems:
        print(p)
    if problems:
        print(f"check-layers: {len(problems)} problem(s)")
        return 1
    print(f"check-layers: {len(mods)} backend modules on {len(FLOORS)} floors, no circle, "
          f"no file over {MAX_FILE_LINES} lines, no function over {MAX_FN_LINES}")
    return 0


def circles(edges, prefix):
    """One problem per import circle (strongly connected component, Tarjan)."""
    problems = []
    index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                sccs.append(comp)

    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index:
            strong(v)
    for comp in sccs:
        names = sorted("::".join(c) or "crate" for c in comp)
        detail = []
        for a in comp:
            for b in sorted(edges[a]):
                if b in comp:
                    detail.append(f"{'::'.join(a)} -> {'::'.join(b)}")
        problems.append(f"{prefix}import circle of {len(comp)}: {', '.join(names)}\n      " + "\n      ".join(detail))

    return problems




def functions(lines):
    """(line, name, length) of each fn with a body, by brace counting."""
    out = []
    fn_re = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:const\s+)?(?:async\s+)?(?:unsafe\s+)?(?:extern\s+\"C\"\s+)?fn\s+(\w+)")
    i = 0
    lines = clean("\n".join(lines)).split("\n")
    while i < len(lines):
        m = fn_re.match(lines[i])
        if not m:
            i += 1
            continue
        end = body_end(lines, i)
        if end is not None:
            out.append((i + 1, m.group(1), end - i + 1))
        i += 1
    return out


def body_end(clean, i):
    """Index of the line closing the fn that starts on line i (None: no body)."""
    depth, opened = 0, False
    for j in range(i, len(clean)):
        for ch in clean[j]:
            if ch == "{":
                depth, opened = depth + 1, True
            elif ch == "}":
                depth -= 1
                if opened and depth == 0:
                    return j
            elif ch == ";" and not opened:
                return None
    return None


if __name__ == "__main__":
    sys.exit(main())
