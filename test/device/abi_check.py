#!/usr/bin/env python3
"""The cuDNN ABI check for a machine without a C++ compiler.

abi_check.cpp compiles native/cuda/cudnn_api.h beside NVIDIA's cudnn.h and static_asserts
every enum value, struct layout and function-pointer type; where no compiler exists this
script compares the same things by reading both headers: every enum constant we declare
must exist with the same value, every struct we declare must list the same member types
in the same order, and every entry point of CR_CUDNN_FUNCTIONS must have the same return
and parameter types (names of parameters and top-level const on by-value parameters do not
change a C function's type, so they are ignored).

  python3 test/device/abi_check.py <folder holding cudnn.h> [native/cuda/cudnn_api.h]
  python3 test/device/abi_check.py --self-test      # the parser against a built-in sample

Exit status: 0 when everything matches, 1 on any difference (each one printed), 2 when the
headers cannot be read.
"""
import os
import re
import sys

ENUM = re.compile(r"typedef\s+enum\s*\w*\s*\{(.*?)\}\s*(\w+)\s*;", re.S)
STRUCT = re.compile(r"typedef\s+struct\s*\w*\s*\{(.*?)\}\s*(\w+)\s*;", re.S)
OURS_FN = re.compile(r"using\s+(\w+)_fn\s*=\s*(.*?)\(\s*\*\s*\)\s*\((.*?)\)\s*;", re.S)
# Attribute-like macros of the real headers that are not part of a type.
NOISE = re.compile(r"\b(CUDNNWINAPI|CUDNN_DEPRECATED\w*|CUDNN_DEPRECATED_ENUM|extern|__attribute__\s*\(\(.*?\)\))\b")


def strip(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    text = re.sub(r"^\s*#[^\n]*(\\\n[^\n]*)*", " ", text, flags=re.M)
    return NOISE.sub(" ", text)


def enums(text):
    out = {}
    for body, name in ENUM.findall(text):
        values, last = {}, -1
        for item in [i.strip() for i in body.split(",") if i.strip()]:
            key, _, expr = item.partition("=")
            key = key.split()[0]
            if expr.strip():
                env = dict(values)
                for other in out.values():
                    env.update(other)
                try:
                    last = int(eval(re.sub(r"(\d+)[uUlL]+\b", r"\1", expr.strip()), {"__builtins__": {}}, env))
                except Exception:
                    last = None  # an expression this reader does not follow: reported if we use it
            elif last is not None:
                last += 1
            values[key] = last
        out[name] = values
    return out


def norm_type(decl, drop_name):
    """'const int *foo' -> 'const int*'; drops the parameter name and a top-level const."""
    decl = re.sub(r"\s*\*\s*", " * ", decl.strip())
    toks = decl.split()
    if drop_name and len(toks) > 1 and re.match(r"^[A-Za-z_]\w*$", toks[-1]) and toks[-1] not in ("const", "void"):
        toks = toks[:-1]
    if "*" not in toks and toks and toks[0] == "const":
        toks = toks[1:]  # top-level const of a by-value parameter
    return " ".join(toks).replace(" *", "*")


def structs(text):
    out = {}
    for body, name in STRUCT.findall(text):
        members = []
        for m in [m.strip() for m in body.split(";") if m.strip()]:
            arr = re.search(r"(\[[^\]]*\])\s*$", m)
            base = m[: arr.start()] if arr else m
            members.append(norm_type(base, False) + (arr.group(1).replace(" ", "") if arr else ""))
        out[name] = members
    return out


def params(plist):
    plist = plist.strip()
    if plist in ("", "void"):
        return []
    return [norm_type(p, True) for p in split_top(plist)]


def split_top(s):
    parts, depth, cur = [], 0, ""
    for ch in s:
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        depth += ch in "(["
        depth -= ch in ")]"
        cur += ch
    return parts + [cur]


def real_function(text, name):
    m = re.search(r"([\w\s\*]+?)\b" + re.escape(name) + r"\s*\(([^;{]*?)\)\s*;", text)
    if not m:
        return None
    ret = m.group(1).split(";")[-1].split("}")[-1]
    return norm_type(ret, False), params(m.group(2))


def our_functions(text):
    listed = re.search(r"#define\s+CR_CUDNN_FUNCTIONS\(X\)(.*?)\n\s*\n", text, re.S)
    names = re.findall(r"X\((\w+)\)", listed.group(1)) if listed else []
    decl = {n: (norm_type(r, False), params(p)) for n, r, p in OURS_FN.findall(strip(text))}
    return names, decl


def compare(real_text, ours_text):
    problems, counts = [], {"enums": 0, "constants": 0, "structs": 0, "functions": 0}
    real = strip(real_text)
    real_enums, our_enums = enums(real), enums(strip(ours_text))
    for ename, values in our_enums.items():
        counts["enums"] += 1
        theirs = real_enums.get(ename)
        if theirs is None:
            problems.append(f"enum {ename}: not in the real headers")
            continue
        for k, v in values.items():
            counts["constants"] += 1
            if k not in theirs:
                problems.append(f"{ename}::{k}: not in the real headers")
            elif theirs[k] is None:
                problems.append(f"{ename}::{k}: its value in cudnn.h could not be read (check by compiling abi_check.cpp)")
            elif theirs[k] != v:
                problems.append(f"{ename}::{k}: ours {v}, cudnn.h {theirs[k]}")
    real_structs = structs(real)
    for sname, members in structs(strip(ours_text)).items():
        counts["structs"] += 1
        if real_structs.get(sname) != members:
            problems.append(f"struct {sname}: ours {members}, cudnn.h {real_structs.get(sname)}")
    names, decl = our_functions(ours_text)
    for n in names:
        counts["functions"] += 1
        theirs = real_function(real, n)
        if n not in decl:
            problems.append(f"{n}: listed in CR_CUDNN_FUNCTIONS without a {n}_fn type")
        elif theirs is None:
            problems.append(f"{n}: not declared in the real headers")
        elif theirs != decl[n]:
            problems.append(f"{n}: ours {decl[n][0]}({', '.join(decl[n][1])}), cudnn.h {theirs[0]}({', '.join(theirs[1])})")
    return problems, counts


SAMPLE_REAL = """
typedef enum { CUDNN_STATUS_SUCCESS = 0, CUDNN_STATUS_BAD_PARAM = 2000, CUDNN_STATUS_X = CUDNN_STATUS_BAD_PARAM + 2, } cudnnStatus_t;
typedef enum { CUDNN_A, CUDNN_B CUDNN_DEPRECATED_ENUM, CUDNN_C = 5, CUDNN_D } cudnnThing_t;
typedef struct cudnnPerfStruct { cudnnThing_t algo; float time; size_t memory; int reserved[3]; } cudnnPerf_t;
cudnnStatus_t CUDNNWINAPI cudnnCreate(cudnnHandle_t *handle);
CUDNN_DEPRECATED cudnnStatus_t CUDNNWINAPI
cudnnFind(const cudnnHandle_t handle, const void *x, int requested, int *returned, cudnnPerf_t *perf);
size_t CUDNNWINAPI cudnnGetVersion(void);
"""
SAMPLE_OURS = """
typedef enum { CUDNN_STATUS_SUCCESS = 0, CUDNN_STATUS_BAD_PARAM = 2000, CUDNN_STATUS_X = 2002, } cudnnStatus_t;
typedef enum { CUDNN_A = 0, CUDNN_B = 1, CUDNN_D = 6 } cudnnThing_t;
typedef struct { cudnnThing_t algo; float time; size_t memory; int reserved[3]; } cudnnPerf_t;
using cudnnCreate_fn = cudnnStatus_t (*)(cudnnHandle_t* h);
using cudnnFind_fn = cudnnStatus_t (*)(cudnnHandle_t handle, const void* x, int n, int* returned, cudnnPerf_t* perf);
using cudnnGetVersion_fn = size_t (*)(void);
#define CR_CUDNN_FUNCTIONS(X) \\
  X(cudnnCreate)              \\
  X(cudnnFind)                \\
  X(cudnnGetVersion)

"""


def self_test():
    problems, counts = compare(SAMPLE_REAL, SAMPLE_OURS)
    assert problems == [], problems
    assert counts == {"enums": 2, "constants": 6, "structs": 1, "functions": 3}, counts
    # each kind of difference is caught
    for bad, what in [("CUDNN_D = 6", "CUDNN_D = 7"), ("float time;", "double time;"),
                      ("int* returned", "size_t* returned"), ("X(cudnnGetVersion)", "X(cudnnGetVersionX)")]:
        found, _ = compare(SAMPLE_REAL, SAMPLE_OURS.replace(bad, what))
        assert found, f"a change from {bad!r} to {what!r} went unnoticed"
    print("abi_check.py self-test: ok")
    return 0


def main(argv):
    if argv[1:2] == ["--self-test"]:
        return self_test()
    if len(argv) < 2:
        print(__doc__)
        return 2
    folder = argv[1]
    ours_path = argv[2] if len(argv) > 2 else os.path.join(os.path.dirname(__file__), "..", "..", "native", "cuda", "cudnn_api.h")
    files = sorted(f for f in os.listdir(folder) if re.match(r"cudnn\w*\.h$", f))
    if "cudnn.h" not in files:
        print(f"abi_check.py: no cudnn.h in {folder}")
        return 2
    real = "\n".join(open(os.path.join(folder, f), encoding="utf-8", errors="replace").read() for f in files)
    problems, counts = compare(real, open(ours_path, encoding="utf-8").read())
    version = re.findall(r"#define\s+CUDNN_(MAJOR|MINOR|PATCHLEVEL)\s+(\d+)", real)
    print(f"cudnn_api.h vs {folder} ({'.'.join(v for _, v in version) or 'version unknown'}; {', '.join(files)})")
    print(f"checked {counts['enums']} enums ({counts['constants']} constants), {counts['structs']} structs, {counts['functions']} functions")
    for p in problems:
        print("MISMATCH " + p)
    print("ABI OK" if not problems else f"ABI: {len(problems)} difference(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
