// ferry-bench: storage benchmark for Ferry backends through the public agent API.
// See docs/benchmarks.md for what it measures and how to compare it with fio.
#include <cstdio>
#include <memory>
#include <string>

#include "ferry/agent.h"
#include "options.h"
#include "report.h"
#include "runner.h"

namespace {

using ferry_bench::Options;

std::string Join(const std::vector<std::string>& items, const char* sep) {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) out += sep;
    out += item;
  }
  return out;
}

// --list-backends: what each plugin moves and every parameter it accepts, so users can
// pass --param (or Agent::CreateBackend params) without reading the plugin's source.
int ListBackends() {
  std::unique_ptr<ferry::Agent> agent;
  ferry::Status st = ferry::Agent::Create("ferry-bench", {}, &agent);
  if (!st.ok()) {
    std::fprintf(stderr, "ferry-bench: creating the agent: %s\n", st.ToString().c_str());
    return 1;
  }
  std::vector<ferry::PluginInfo> plugins = agent->ListPlugins();
  if (plugins.empty()) {
    std::printf("no plugins found (set FERRY_PLUGIN_DIR, or install them beside libferry)\n");
    return 1;
  }
  for (const ferry::PluginInfo& p : plugins) {
    std::vector<std::string> caps;
    for (const ferry::Capability& c : p.capabilities) caps.push_back(ferry::CapabilityName(c));
    std::printf("%s %s  (%s)\n", p.name.c_str(), p.version.c_str(), p.path.c_str());
    if (!p.usable) {
      std::printf("  NOT USABLE: %s\n\n", p.error.c_str());
      continue;
    }
    std::printf("  moves: %s\n", Join(caps, ", ").c_str());
    std::printf("  parameters:\n");
    if (p.params.empty()) std::printf("    (none)\n");
    for (const ferry::ParamSpec& spec : p.params) {
      std::string type(ferry::ParamTypeName(spec.type));
      if (spec.type == ferry::ParamType::kEnum) type += " {" + Join(spec.choices, "|") + "}";
      // A secret's default is never printed, like its value anywhere else.
      const std::string shown = spec.default_value.empty() && spec.type != ferry::ParamType::kSecret
                                    ? "\"\""
                                    : ferry::ShownValue(spec, spec.default_value);
      std::printf("    %-20s %-24s default %-10s %s\n", spec.name.c_str(), type.c_str(),
                  shown.c_str(), spec.doc.c_str());
      std::vector<std::string> aliases;
      for (const ferry::ParamAlias& a : spec.aliases) {
        aliases.push_back(a.value.empty() ? a.name : a.name + " (true -> " + a.value + ")");
      }
      if (!aliases.empty()) {
        std::printf("    %-20s aliases: %s\n", "", Join(aliases, ", ").c_str());
      }
    }
    std::printf("\n");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  int code = ferry_bench::ParseOptions(argc, argv, &options);
  if (code >= 0) return code;
  if (options.list_backends) return ListBackends();

  std::vector<ferry_bench::Case> cases = ferry_bench::ExpandCases(options);
  std::string error;
  ferry_bench::JsonLinesWriter json;
  if (!options.json_path.empty() && !json.Open(options.json_path, &error)) {
    std::fprintf(stderr, "ferry-bench: %s\n", error.c_str());
    return 2;
  }
  std::unique_ptr<ferry_bench::Runner> runner;
  if (!ferry_bench::Runner::Create(options, cases, &runner, &error)) {
    std::fprintf(stderr, "ferry-bench: %s\n", error.c_str());
    return 1;
  }
  if (!options.quiet) {
    const std::string where = options.objects()
                                  ? "objects '" + options.key_prefix + "*' (one per descriptor)"
                                  : std::to_string(options.files) + " file(s) in " + options.dir +
                                        ", engine " + options.engine + ", direct " +
                                        (options.direct ? "1" : "0");
    std::printf("# backend %s, %s, %s per case, %s\n", options.backend.c_str(), where.c_str(),
                ferry_bench::FormatSize(options.total_bytes).c_str(),
                options.xfer_mode == ferry_bench::XferMode::kMake ? "MakeTransfer per request"
                                                                  : "reposted transfers");
    ferry_bench::PrintTableHeader(stdout);
  }
  int failures = 0;
  for (const ferry_bench::Case& c : cases) {
    ferry_bench::CaseResult result = runner->RunCase(c);
    if (!result.ok) {
      ++failures;
      std::fprintf(stderr, "ferry-bench: %s %s: %s\n", ferry_bench::BenchOpName(c.op),
                   ferry_bench::FormatSize(c.block_size).c_str(), result.error.c_str());
    }
    if (!options.quiet) ferry_bench::PrintTableRow(stdout, result);
    json.Write(result);
  }
  return failures == 0 ? 0 : 1;
}
