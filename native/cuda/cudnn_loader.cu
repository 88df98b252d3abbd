// Search order: CUDNN_LIBRARY_PATH (a file, or a folder holding libcudnn.so.9), then the
// dynamic loader's own path (LD_LIBRARY_PATH, ld.so.cache: a system package), then the
// nvidia/cudnn/lib folders of Python installs (pip wheels) and conda environments found by
// globbing the usual prefixes. No python is run: starting an interpreter from an addon is
// slow and may pick a different environment than the user's.
#include <dlfcn.h>
#include <glob.h>
#include <link.h>

#include <cstdlib>
#include <mutex>
#include <set>
#include <sys/stat.h>

#include "cudnn_loader.h"

#include "../core/env.h"

namespace cr {
namespace dnn {
namespace {

const char* kLib = "libcudnn.so.9";

// cuDNN 9's libcudnn.so.9 is a shim that dlopen()s its sub-libraries by soname. When the
// shim comes from a folder the loader does not search, load the sub-libraries from that
// folder first (in dependency order): glibc then satisfies the shim's requests with the
// copies already in memory instead of failing or mixing in another installation's files.
const char* kSubLibs[] = {"libcudnn_graph.so.9",
                          "libcudnn_engines_precompiled.so.9",
                          "libcudnn_engines_runtime_compiled.so.9",
                          "libcudnn_heuristic.so.9",
                          "libcudnn_ops.so.9",
                          "libcudnn_cnn.so.9",
                          "libcudnn_adv.so.9"};

bool is_dir(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}
bool is_file(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && !S_ISDIR(st.st_mode);
}

std::vector<std::string> glob_dirs(const std::string& pattern) {
  std::vector<std::string> out;
  glob_t g{};
  if (glob(pattern.c_str(), GLOB_NOSORT, nullptr, &g) == 0)
    for (size_t i = 0; i < g.gl_pathc; i++) out.push_back(g.gl_pathv[i]);
  globfree(&g);
  return out;
}

std::string real_path_of(void* handle, const std::string& fallback) {
  struct link_map* lm = nullptr;
  if (dlinfo(handle, RTLD_DI_LINKMAP, &lm) == 0 && lm && lm->l_name && lm->l_name[0]) return lm->l_name;
  return fallback;
}

struct Loader {
  LoadResult result;
  Api table;
  std::set<std::string> seen;

  // Tries one file; on success fills the table and returns true.
  bool try_file(const std::string& file, const std::string& label, bool preload_siblings) {
    if (!seen.insert(file).second) return false;
    if (preload_siblings) {
      std::string dir = file.substr(0, file.find_last_of('/'));
      for (const char* sub : kSubLibs) {
        std::string p = dir + "/" + sub;
        if (is_file(p)) dlopen(p.c_str(), RTLD_NOW | RTLD_GLOBAL);  // best effort; the shim reports what is missing
      }
    }
    void* h = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      const char* e = dlerror();
      result.searched.push_back(label + ": " + (e ? e : "dlopen failed"));
      return false;
    }
    Api t;
    std::string missing;
#define CR_CUDNN_SYM(name) \
  t.name = reinterpret_cast<name##_fn>(dlsym(h, #name)); \
  if (!t.name) missing += (missing.empty() ? "" : ", ") + std::string(#name);
    CR_CUDNN_FUNCTIONS(CR_CUDNN_SYM)
#undef CR_CUDNN_SYM
    std::string where = real_path_of(h, file);
    if (!missing.empty()) {
      result.searched.push_back(label + ": loaded " + where + " but it lacks " + missing);
      dlclose(h);
      return false;
    }
    size_t v = t.cudnnGetVersion();
    if (v < 90000 || v >= 100000) {
      result.searched.push_back(label + ": " + where + " is cuDNN " + std::to_string(v) + ", need 9.x");
      dlclose(h);
      return false;
    }
    result.searched.push_back(label + ": loaded " + where + " (cuDNN " + std::to_string(v) + ")");
    result.ok = true;
    result.path = where;
    result.version = v;
    table = t;
    return true;
  }

  bool try_dir(const std::string& dir, const std::string& label) {
    std::string f = dir + "/" + kLib;
    if (!is_file(f)) {
      if (seen.insert(f).second) result.searched.push_back(label + ": " + f + " not found");
      return false;
    }
    return try_file(f, label, true);
  }

  void run() {
    if (std::string p = env::cudnn_library_path(); !p.empty()) {
      if (is_dir(p)) {
        if (try_dir(p, "CUDNN_LIBRARY_PATH=" + p)) return;
      } else if (is_file(p)) {
        if (try_file(p, "CUDNN_LIBRARY_PATH=" + p, true)) return;
      } else {
        result.searched.push_back("CUDNN_LIBRARY_PATH=" + p + ": no such file or folder");
      }
    }
    // The loader's default search: LD_LIBRARY_PATH, the ld.so cache, /lib and /usr/lib.
    if (try_file(kLib, std::string("dlopen(\"") + kLib + "\") (LD_LIBRARY_PATH and the system library path)", false))
      return;

    std::vector<std::string> prefixes;
    auto add_env = [&](const char* var, const char* suffix) {
      if (const char* v = std::getenv(var); v && *v) prefixes.push_back(std::string(v) + suffix);
    };
    add_env("VIRTUAL_ENV", "/lib/python3*/site-packages");
    add_env("CONDA_PREFIX", "/lib/python3*/site-packages");
    add_env("HOME", "/.local/lib/python3*/site-packages");
    prefixes.push_back("/usr/local/lib/python3*/site-packages");
    prefixes.push_back("/usr/local/lib/python3*/dist-packages");
    prefixes.push_back("/usr/lib/python3*/site-packages");
    prefixes.push_back("/usr/lib/python3*/dist-packages");
    prefixes.push_back("/usr/lib/python3/dist-packages");
    prefixes.push_back("/opt/conda/lib/python3*/site-packages");
    std::vector<std::string> dirs;
    std::string empty_prefixes;
    for (const auto& pre : prefixes) {
      bool any = false;
      for (const char* sub : {"/nvidia/cudnn/lib", "/nvidia/cu13/lib"}) {
        auto found = glob_dirs(pre + sub);
        any = any || !found.empty();
        dirs.insert(dirs.end(), found.begin(), found.end());
      }
      if (!any) empty_prefixes += (empty_prefixes.empty() ? "" : ", ") + pre;
    }
    if (!empty_prefixes.empty())
      result.searched.push_back("pip wheels (nvidia/cudnn/lib, nvidia/cu13/lib) under " + empty_prefixes + ": none");
    // conda's cudnn package and tarball installs put the library straight into a lib folder.
    if (const char* v = std::getenv("CONDA_PREFIX"); v && *v) dirs.push_back(std::string(v) + "/lib");
    dirs.push_back("/usr/local/cuda/lib64");
    dirs.push_back("/usr/local/cudnn/lib64");
    dirs.push_back("/usr/lib/x86_64-linux-gnu");
    for (const auto& d : dirs)
      if (try_dir(d, d)) return;

    result.error = std::string("cuDNN 9 (") + kLib + ") was not found. Looked in:";
    for (const auto& s : result.searched) result.error += "\n  - " + s;
    result.error +=
        "\n  Install cuDNN 9 for CUDA 13 (a system package such as libcudnn9-cuda-13, or "
        "`pip install nvidia-cudnn-cu13`), or set CUDNN_LIBRARY_PATH to the file or its folder.";
  }
};

Loader& loader() {
  static Loader* l = [] {
    auto* x = new Loader();  // leaked: the library stays loaded for the life of the process
    x->run();
    return x;
  }();
  return *l;
}

}  // namespace

const LoadResult& load() { return loader().result; }
const Api& api() { return loader().table; }

}  // namespace dnn
}  // namespace cr
