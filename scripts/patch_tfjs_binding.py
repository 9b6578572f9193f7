"""Adds the kit's compiled-step functions (native/compiled_functions.cc) to tfjs-node's N-API binding.

    python scripts/patch_tfjs_binding.py PKG_DIR EXTENSION.cc      add the extension to the build
    python scripts/patch_tfjs_binding.py PKG_DIR --restore         put tfjs-node's own build back

Run by scripts/setup-native.sh before it compiles the binding. tfjs-node's own files are kept as
*.orig the first time and every run starts from them, so running it twice changes nothing more:
  - the extension is copied into binding/ and added to binding.gyp's sources, with C++ exceptions
    enabled for the target (the extension reports errors with them; node-gyp turns them off);
  - the module initialiser in binding/tfjs_binding.cc is wrapped so that it also registers the
    extension's functions on the binding's exports.
Exits 1, naming what it did not find, if tfjs-node's sources are not laid out as expected.
"""
import ast
import json
import os
import shutil
import sys

INIT = "NAPI_MODULE(tfe_binding, InitTFNodeJSBinding)"
WRAPPED = """napi_value CollapseRegisterFunctions(napi_env env, napi_value exports);  // collapse-kit
static napi_value InitWithCollapse(napi_env env, napi_value exports) {
  napi_value e = InitTFNodeJSBinding(env, exports);
  return e == nullptr ? e : CollapseRegisterFunctions(env, e);
}
NAPI_MODULE(tfe_binding, InitWithCollapse)"""
EXTENSION = "binding/collapse_compiled_functions.cc"


def pristine(path):
    """tfjs-node's own version of `path` (saved beside it on first use), restored in place."""
    orig = path + ".orig"
    if not os.path.exists(orig):
        shutil.copyfile(path, orig)
    shutil.copyfile(orig, path)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    pkg, source = sys.argv[1], sys.argv[2]
    gyp = os.path.join(pkg, "binding.gyp")
    init = os.path.join(pkg, "binding", "tfjs_binding.cc")
    for f in (gyp, init):
        if not os.path.exists(f):
            sys.exit(f"patch_tfjs_binding: {f} is missing")
    pristine(gyp)
    pristine(init)
    ext = os.path.join(pkg, EXTENSION)
    if source == "--restore":
        if os.path.exists(ext):
            os.remove(ext)
        return
    shutil.copyfile(source, ext)
    with open(gyp, encoding="utf-8") as f:
        spec = ast.literal_eval(f.read())
    target = next((t for t in spec.get("targets", []) if t.get("target_name") == "tfjs_binding"), None)
    if target is None or "sources" not in target:
        sys.exit(f"patch_tfjs_binding: {gyp} has no tfjs_binding target with sources")
    target["sources"].append(EXTENSION)
    target["cflags_cc"] = target.get("cflags_cc", []) + ["-fexceptions"]
    target["cflags_cc!"] = target.get("cflags_cc!", []) + ["-fno-exceptions"]
    target.setdefault("xcode_settings", {})["GCC_ENABLE_CPP_EXCEPTIONS"] = "YES"
    with open(gyp, "w", encoding="utf-8") as f:
        json.dump(spec, f, indent=1)
        f.write("\n")
    with open(init, encoding="utf-8") as f:
        text = f.read()
    if text.count(INIT) != 1:
        sys.exit(f"patch_tfjs_binding: {init} does not register its module as expected ({INIT!r})")
    with open(init, "w", encoding="utf-8") as f:
        f.write(text.replace(INIT, WRAPPED))


if __name__ == "__main__":
    main()
