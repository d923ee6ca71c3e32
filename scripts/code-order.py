#!/usr/bin/env python3
"""The functions a server ran, from callgrind's output, for `local/code-order.txt`.

    scripts/code-order.py <server binary> <callgrind.out files...> > local/code-order.txt

Keeps the names (mangled, as the linker knows them) of the binary's own functions that ran in
any of the files, sorted, so `local/build.rs` has LLD lay them out side by side. Run by
`scripts/code-order.sh`.
"""
import re
import subprocess
import sys

# `fn=(12) name` names function 12 and makes it the current one; `fn=(12)` refers back to it.
# `ob=` does the same for the object (binary or library) the following functions are in.
NAMED = re.compile(r"^(c?fn|c?ob)=\((\d+)\)(?: (.*))?$")


def ran_in(path, binary):
    """The names of `binary`'s functions with a cost in one callgrind output file."""
    names, objects, current_object, ran = {}, {}, None, set()
    with open(path, errors="replace") as lines:
        for line in lines:
            match = NAMED.match(line.rstrip("\n"))
            if not match:
                continue
            kind, number, name = match.groups()
            table = objects if kind.endswith("ob") else names
            if name:
                table[number] = name
            if kind == "ob":
                current_object = objects.get(number)
            elif kind == "fn" and current_object == binary:
                # A recursion's inner levels are spelled name'2, name'3, ...
                ran.add(re.sub(r"'\d+$", "", names[number]))
    return ran


def defined_functions(binary):
    """The function symbols the binary defines (nm's t, T, w and W)."""
    listing = subprocess.run(["nm", "--defined-only", binary], capture_output=True, text=True, check=True).stdout
    return {fields[2] for fields in map(str.split, listing.splitlines()) if len(fields) == 3 and fields[1] in "tTwW"}


def main():
    binary, outputs = sys.argv[1], sys.argv[2:]
    ran = set().union(*(ran_in(path, binary) for path in outputs))
    defined = defined_functions(binary)
    kept = sorted(ran & defined)
    if not kept:
        sys.exit(f"no function of {binary} ran in {outputs}: is it the binary callgrind ran?")
    print(f"{len(kept)} functions of {binary} ran ({len(ran - defined)} names not in its symbol table)", file=sys.stderr)
    print("\n".join(kept))


if __name__ == "__main__":
    main()
