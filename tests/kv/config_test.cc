// Configuration: the seed's YAML examples, every validation rule, env overrides.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "ferry/kv/config.h"
#include "ferry/kv/engine.h"
#include "kv_test_util.h"

namespace ferry::kv {
namespace {

using ::testing::HasSubstr;

// The seed's POSIX example as a user writes it (extra_config's keys indented under it).
constexpr const char* kPosixExample = R"(chunk_size: 256
nixl_buffer_size: 1073741824 # 1GB
nixl_buffer_device: cpu
extra_config:
  enable_nixl_storage: true
  nixl_backend: POSIX
  nixl_pool_size: 64
  nixl_path: /mnt/nixl/cache/
)";

constexpr const char* kObjExample = R"(chunk_size: 256
nixl_buffer_size: 1073741824 # 1GB
nixl_buffer_device: cpu
extra_config:
  enable_nixl_storage: true
  nixl_backend: OBJ
  nixl_pool_size: 64
  nixl_path: /mnt/nixl/cache/
  nixl_backend_params:
    access_key: <your_access_key>
    secret_key: <your_secret_key>
    bucket: <your_bucket>
    region: <your_region>
)";

// Byte for byte as the seed page prints it (a docs conversion left extra_config's keys at
// column 0).
constexpr const char* kPosixVerbatim =
    " chunk_size: 256\n nixl_buffer_size: 1073741824 # 1GB\n nixl_buffer_device: cpu\n"
    " extra_config:\nenable_nixl_storage: true\nnixl_backend: POSIX\nnixl_pool_size: 64\n"
    "nixl_path: /mnt/nixl/cache/\n";
constexpr const char* kObjVerbatim =
    " chunk_size: 256\n nixl_buffer_size: 1073741824 # 1GB\n nixl_buffer_device: cpu\n"
    " extra_config:\nenable_nixl_storage: true\nnixl_backend: OBJ\nnixl_pool_size: 64\n"
    "nixl_path: /mnt/nixl/cache/\nnixl_backend_params:\n  access_key: <your_access_key>\n"
    "  secret_key: <your_secret_key>\n  bucket: <your_bucket>\n  region: <your_region>\n";

Config Parse(const std::string& text) {
  Config c;
  Status s = ParseConfigYaml(text, "test.yaml", &c);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return c;
}

Status Validated(const std::string& text) {
  Config c;
  Status s = ParseConfigYaml(text, "test.yaml", &c);
  if (!s.ok()) return s;
  return ValidateConfig(c);
}

EnvLookup MapEnv(std::map<std::string, std::string> vars) {
  return [vars](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

void ExpectPosixExample(const Config& c) {
  EXPECT_EQ(c.chunk_size, 256);
  EXPECT_EQ(c.nixl_buffer_size, 1073741824u);
  EXPECT_EQ(c.nixl_buffer_device, "cpu");
  EXPECT_TRUE(c.enable_nixl_storage);
  EXPECT_EQ(c.nixl_backend, "POSIX");
  EXPECT_EQ(c.nixl_pool_size, 64);
  EXPECT_EQ(c.nixl_path, "/mnt/nixl/cache/");
  EXPECT_TRUE(ValidateConfig(c).ok());
}

TEST(KvConfig, SeedPosixExampleParses) {
  Config c = Parse(kPosixExample);
  ExpectPosixExample(c);
  EXPECT_TRUE(c.warnings.empty());
}

TEST(KvConfig, SeedObjExampleParses) {
  Config c = Parse(kObjExample);
  EXPECT_EQ(c.nixl_backend, "OBJ");
  ASSERT_EQ(c.nixl_backend_params.size(), 4u);
  EXPECT_EQ(c.nixl_backend_params.at("bucket"), "<your_bucket>");
  EXPECT_EQ(c.nixl_backend_params.at("region"), "<your_region>");
  EXPECT_TRUE(ValidateConfig(c).ok());
}

TEST(KvConfig, SeedVerbatimIndentationIsReadWithAWarning) {
  Config c = Parse(kPosixVerbatim);
  ExpectPosixExample(c);
  ASSERT_EQ(c.warnings.size(), 1u);
  EXPECT_THAT(c.warnings[0], HasSubstr("test.yaml:5:1"));
  EXPECT_THAT(c.warnings[0], HasSubstr("extra_config"));
  Config o = Parse(kObjVerbatim);
  EXPECT_EQ(o.nixl_backend, "OBJ");
  EXPECT_EQ(o.nixl_backend_params.size(), 4u);
}

TEST(KvConfig, SyntaxErrorNamesFileLineColumn) {
  Config c;
  Status s = ParseConfigYaml("chunk_size: 256\nextra_config: [1,\n", "bad.yaml", &c);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), ::testing::MatchesRegex(".*bad\\.yaml:[0-9]+:[0-9]+: YAML syntax.*"));
  s = ParseConfigYaml("a: 1\nb: 2\n  c: 3\n", "bad.yaml", &c);
  EXPECT_THAT(s.message(), HasSubstr("bad.yaml:3:"));
}

TEST(KvConfig, LoadConfigFileMissingAndPresent) {
  testing::TempDir dir;
  Config c;
  Status s = LoadConfigFile(dir.sub("nope.yaml"), &c);
  EXPECT_EQ(s.code(), Code::kNotFound);
  std::ofstream(dir.sub("c.yaml")) << kPosixExample;
  ASSERT_TRUE(LoadConfigFile(dir.sub("c.yaml"), &c).ok());
  EXPECT_EQ(c.source, dir.sub("c.yaml"));
}

TEST(KvConfig, BackendMustBeKnown) {
  Status s = Validated("extra_config:\n  nixl_backend: NFS\n  nixl_path: /x\n");
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("nixl_backend"));
  EXPECT_THAT(s.message(), HasSubstr("GDS, GDS_MT, POSIX, HF3FS, OBJ"));
  for (const char* b : kKnownBackends) {
    std::string y = std::string("extra_config:\n  nixl_backend: ") + b + "\n  nixl_path: /x\n";
    EXPECT_TRUE(Validated(y).ok()) << b;
  }
}

TEST(KvConfig, CudaWithTheBackendsThatMoveGpuMemory) {
  for (const char* b : {"HF3FS", "OBJ"}) {
    Status s = Validated(std::string("nixl_buffer_device: cuda\nextra_config:\n  nixl_backend: ") +
                         b + "\n  nixl_path: /x\n");
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << b;
    EXPECT_THAT(s.message(), HasSubstr("nixl_buffer_device"));
    EXPECT_THAT(s.message(), HasSubstr("GDS, GDS_MT or POSIX"));
  }
  for (const char* b : {"GDS", "GDS_MT", "POSIX"}) {
    EXPECT_TRUE(Validated(std::string("nixl_buffer_device: cuda\nextra_config:\n  nixl_backend: ") +
                          b + "\n  nixl_path: /x\n")
                    .ok());
  }
  Status s = Validated("nixl_buffer_device: tpu\nextra_config:\n  nixl_path: /x\n");
  EXPECT_THAT(s.message(), HasSubstr("nixl_buffer_device must be one of cpu, cuda"));
}

TEST(KvConfig, PathRequiredForFileBackends) {
  for (const char* b : {"GDS", "GDS_MT", "POSIX", "HF3FS"}) {
    Status s = Validated(std::string("extra_config:\n  nixl_backend: ") + b + "\n");
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << b;
    EXPECT_THAT(s.message(), HasSubstr("extra_config.nixl_path is required"));
  }
  EXPECT_TRUE(Validated("extra_config:\n  nixl_backend: OBJ\n").ok());
}

TEST(KvConfig, PoolSizeAndSizes) {
  Status s = Validated("extra_config:\n  nixl_pool_size: -1\n  nixl_path: /x\n");
  EXPECT_THAT(s.message(), HasSubstr("extra_config.nixl_pool_size must be 0..1048576"));
  EXPECT_TRUE(Validated("extra_config:\n  nixl_pool_size: 0\n  nixl_path: /x\n").ok());
  s = Validated("chunk_size: 0\nextra_config:\n  nixl_path: /x\n");
  EXPECT_THAT(s.message(), HasSubstr("chunk_size must be 1..1048576 tokens"));
  s = Validated("chunk_size: many\n");
  EXPECT_THAT(s.message(), HasSubstr("test.yaml:1:1: chunk_size: expected an integer, got 'many'"));
  s = Validated("extra_config:\n  nixl_pool_size: [1]\n");
  EXPECT_FALSE(s.ok());
  // One llama-3.1-8b chunk is 32 MiB; a 16 MiB buffer cannot hold it.
  Config c = Parse("nixl_buffer_size: 16M\nextra_config:\n  nixl_path: /x\n");
  s = ValidateConfig(c, 32ull << 20);
  EXPECT_THAT(s.message(), HasSubstr("nixl_buffer_size"));
  EXPECT_THAT(s.message(), HasSubstr("at least one chunk"));
  c.nixl_buffer_size = (32ull << 20) + 4096;
  EXPECT_TRUE(ValidateConfig(c, 32ull << 20).ok());
}

TEST(KvConfig, UnknownKeysAreWarnedAbout) {
  Config c = Parse(
      "chunk_size: 256\nlocal_cpu: false\nchunk_sise: 3\nextra_config:\n  nixl_path: /x\n"
      "  nixl_colour: blue\n");
  ASSERT_EQ(c.warnings.size(), 3u);
  EXPECT_THAT(c.warnings[0], HasSubstr("local_cpu"));
  EXPECT_THAT(c.warnings[1], HasSubstr("unknown key 'chunk_sise'"));
  EXPECT_THAT(c.warnings[2], HasSubstr("extra_config.nixl_colour"));
}

TEST(KvConfig, EnvOverridesTopLevelKeys) {
  Config c = Parse(kPosixExample);
  auto env = MapEnv({{"LMCACHE_CHUNK_SIZE", "128"},
                     {"LMCACHE_NIXL_BUFFER_SIZE", "2G"},
                     {"LMCACHE_NIXL_BUFFER_DEVICE", "cpu"},
                     {"LMCACHE_SAVE_UNFULL_CHUNK", "true"}});
  ASSERT_TRUE(ApplyEnvOverrides(env, &c).ok());
  EXPECT_EQ(c.chunk_size, 128);
  EXPECT_EQ(c.nixl_buffer_size, 2ull << 30);
  EXPECT_TRUE(c.save_unfull_chunk);
  Status s = ApplyEnvOverrides(MapEnv({{"LMCACHE_CHUNK_SIZE", "x"}}), &c);
  EXPECT_THAT(s.message(), HasSubstr("LMCACHE_CHUNK_SIZE: chunk_size: expected an integer"));
}

TEST(KvConfig, ExtraConfigEnvIsJsonMergedKeyByKey) {
  Config c = Parse(kPosixExample);
  auto env = MapEnv({{"LMCACHE_EXTRA_CONFIG",
                      R"({"nixl_pool_size": 8, "nixl_backend_params": {"engine": "threads",
                         "queue_depth": 16}, "use_direct_io": true})"}});
  ASSERT_TRUE(ApplyEnvOverrides(env, &c).ok());
  EXPECT_EQ(c.nixl_pool_size, 8);
  EXPECT_EQ(c.nixl_path, "/mnt/nixl/cache/");  // kept from the file
  EXPECT_TRUE(c.use_direct_io);
  EXPECT_EQ(c.nixl_backend_params.at("engine"), "threads");
  EXPECT_EQ(c.nixl_backend_params.at("queue_depth"), "16");
  Status s = ApplyEnvOverrides(MapEnv({{"LMCACHE_EXTRA_CONFIG", "{nope"}}), &c);
  EXPECT_THAT(s.message(), HasSubstr("LMCACHE_EXTRA_CONFIG: not valid JSON"));
  s = ApplyEnvOverrides(MapEnv({{"LMCACHE_EXTRA_CONFIG", "[1]"}}), &c);
  EXPECT_THAT(s.message(), HasSubstr("must be a JSON object"));
  s = ApplyEnvOverrides(MapEnv({{"LMCACHE_EXTRA_CONFIG", R"({"nixl_pool_size": "x"})"}}), &c);
  EXPECT_THAT(s.message(), HasSubstr("extra_config.nixl_pool_size: expected an integer"));
}

TEST(KvConfig, ExperimentalFlagIsRequired) {
  testing::TempDir dir;
  std::ofstream(dir.sub("c.yaml")) << kPosixExample;
  Config c;
  Status s = LoadConfigFromEnv(MapEnv({{"LMCACHE_CONFIG_FILE", dir.sub("c.yaml")}}), &c);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("LMCACHE_USE_EXPERIMENTAL"));
  s = LoadConfigFromEnv(
      MapEnv({{"LMCACHE_CONFIG_FILE", dir.sub("c.yaml")}, {"LMCACHE_USE_EXPERIMENTAL", "False"}}),
      &c);
  EXPECT_THAT(s.message(), HasSubstr("LMCACHE_USE_EXPERIMENTAL"));
  s = LoadConfigFromEnv(MapEnv({{"LMCACHE_USE_EXPERIMENTAL", "True"}}), &c);
  EXPECT_EQ(s.code(), Code::kNotFound);
  s = LoadConfigFromEnv(MapEnv({{"LMCACHE_CONFIG_FILE", dir.sub("c.yaml")},
                                {"LMCACHE_USE_EXPERIMENTAL", "True"},
                                {"LMCACHE_CHUNK_SIZE", "64"}}),
                        &c);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(c.chunk_size, 64);
  EXPECT_EQ(c.nixl_backend, "POSIX");
}

TEST(KvConfig, EngineNamesMissingPluginAndBadParams) {
  testing::TempDir dir;
  Config c = testing::SmallConfig(dir.str());
  c.nixl_backend = "HF3FS";  // a backend the seed names that this build has no plugin for
  std::unique_ptr<Engine> e;
  Status s = Engine::Create(c, testing::SmallOptions(), &e);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("backend 'HF3FS' is not available: no plugin named HF3FS"));
  EXPECT_THAT(s.message(), HasSubstr("available: "));
  EXPECT_THAT(s.message(), HasSubstr("POSIX"));
  c = testing::SmallConfig(dir.str());
  c.nixl_backend_params["colour"] = "blue";
  s = Engine::Create(c, testing::SmallOptions(), &e);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("colour"));
  c = testing::SmallConfig(dir.str());
  c.enable_nixl_storage = false;
  s = Engine::Create(c, testing::SmallOptions(), &e);
  EXPECT_THAT(s.message(), HasSubstr("enable_nixl_storage"));
  c = testing::SmallConfig(dir.str());
  c.nixl_buffer_size = 4096;
  s = Engine::Create(c, testing::SmallOptions(), &e);
  EXPECT_THAT(s.message(), HasSubstr("at least one chunk"));
}

}  // namespace
}  // namespace ferry::kv

namespace ferry::kv {
namespace {

// Numbers are bounded and checked, never narrowed: each of these once crashed, aborted or
// silently changed meaning.
TEST(KvConfigBounds, OutOfRangeNumbersAreRefusedByName) {
  Status s = Validated("chunk_size: 9007199254740992\nextra_config:\n  nixl_path: /x\n");
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("chunk_size must be 1..1048576"));
  s = Validated("extra_config:\n  nixl_pool_size: 4294967296\n  nixl_path: /x\n");
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << "2^32 must not become 0 (dynamic mode)";
  EXPECT_THAT(s.message(), HasSubstr("nixl_pool_size must be 0..1048576"));
  Config c;
  ASSERT_TRUE(ParseConfigYaml("extra_config:\n  nixl_path: /x\n  nixl_max_storage_size: 4096\n",
                              "t.yaml", &c)
                  .ok());
  s = ValidateConfig(c, /*chunk_bytes=*/8192);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("nixl_max_storage_size"));
  c.nixl_max_storage_size = 0;  // no limit
  EXPECT_TRUE(ValidateConfig(c, 8192).ok());
  c.nixl_buffer_size = uint64_t{1} << 62;
  s = ValidateConfig(c, 4096);
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << "a page count past 32 bits is refused";
  EXPECT_THAT(s.message(), HasSubstr("nixl_buffer_size"));
}

TEST(KvConfigBounds, ChunkSizeTimesGeometryOverflowingIsRefusedAtCreate) {
  testing::TempDir dir;
  Config c = testing::SmallConfig(dir.str());
  c.chunk_size = 1 << 20;
  EngineOptions o = testing::SmallOptions();
  o.geometry = {4096, 4096, 65536, DType::kFp32, false};  // 2^41 bytes a token
  std::unique_ptr<Engine> e;
  Status s = Engine::Create(c, o, &e);
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
  o.geometry = {0, 1, 1, DType::kBf16, false};
  s = Engine::Create(c, o, &e);
  EXPECT_THAT(s.message(), HasSubstr("layers 1..4096"));
}

TEST(KvConfigYaml, ARepeatedKeyIsRefusedNamingBothLines) {
  Config c;
  Status s = ParseConfigYaml("chunk_size: 256\nextra_config:\n  nixl_path: /a\n  nixl_path: /b\n",
                             "dup.yaml", &c);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("dup.yaml:4:3: key 'nixl_path' appears twice"));
  EXPECT_THAT(s.message(), HasSubstr("dup.yaml:3:3"));
  s = ParseConfigYaml("chunk_size: 256\nchunk_size: 512\n", "dup.yaml", &c);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace ferry::kv
