// The KV engine over OBJ against the real S3 server: chunks as objects, recovery after a
// restart from LIST, eviction by DELETE, corrupt objects never returned, one engine per
// pool through the lease object.
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ferry/kv/engine.h"
#include "kv/kv_test_util.h"
#include "obj/obj_test_util.h"
#include "obj_io.h"
#include "obj_lease.h"

namespace ferry::kv {
namespace {

using ferry::test::LoadS3Env;
using ferry::test::S3Env;
using testing::kChunk;
using testing::MakeKv;
using testing::SmallGeometry;
using testing::SmallOptions;
using testing::Tokens;

std::vector<int32_t> Prompt(int i) {
  return Tokens(kChunk, 1000 * (i + 1));
}

class KvObjTest : public ::testing::TestWithParam<int64_t> {
 protected:
  void SetUp() override {
    env_ = LoadS3Env();
    ASSERT_TRUE(env_.ok) << env_.why;
    root_ = std::string("/kvtest/") +
            ::testing::UnitTest::GetInstance()->current_test_info()->name() + "/";
    FERRY_ASSERT_OK(Agent::Create("kv-obj-test", {}, &agent_));
    FERRY_ASSERT_OK(agent_->CreateBackend("OBJ", env_.BackendParams(), &obj_));
  }

  Config ObjConfig(int64_t pool) const {
    Config c = testing::SmallConfig("", pool);
    c.nixl_backend = "OBJ";
    c.nixl_path = root_;
    for (const auto& [k, v] : env_.BackendParams()) c.nixl_backend_params[k] = v;
    return c;
  }
  std::unique_ptr<Engine> Open(int64_t pool, Status* status = nullptr) {
    std::unique_ptr<Engine> e;
    Status s = Engine::Create(ObjConfig(pool), SmallOptions(), &e);
    if (status != nullptr) {
      *status = s;
    } else {
      EXPECT_TRUE(s.ok()) << s.ToString();
    }
    return e;
  }
  std::vector<ListEntry> Objects() {
    std::vector<ListEntry> l;
    Status s = agent_->ListMem(MemKind::kObj, root_.substr(1), &l, obj_);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return l;
  }
  Status Store(Engine& e, int i) {
    auto t = Prompt(i);
    auto kv = MakeKv(t, SmallGeometry());
    return e.Store(t, KvLayout::Contiguous(kv.data(), t.size()));
  }
  uint64_t Retrieve(Engine& e, int i) {
    auto t = Prompt(i);
    std::vector<uint8_t> out(t.size() * SmallGeometry().BytesPerToken());
    uint64_t restored = 0;
    Status s = e.Retrieve(t, KvLayout::Contiguous(out.data(), t.size()), &restored);
    EXPECT_TRUE(s.ok()) << s.ToString();
    EXPECT_TRUE(testing::PrefixMatches(out, t, SmallGeometry(), restored)) << "prompt " << i;
    return restored;
  }
  // Writes `body` over object `key` with the test's own backend.
  void Overwrite(const std::string& key, std::vector<uint8_t> body) {
    FERRY_ASSERT_OK(MoveObject(agent_.get(), obj_, XferOp::kWrite, key, body.data(), body.size()));
  }
  std::string LeaseKey() {
    for (const ListEntry& e : Objects())
      if (e.name.ends_with(".lease")) return e.name;
    return {};
  }

  S3Env env_;
  std::string root_;
  std::unique_ptr<Agent> agent_;
  BackendId obj_;
};

TEST_P(KvObjTest, StoresRetrievesAndRecoversAfterRestart) {
  {
    auto e = Open(GetParam());
    ASSERT_NE(e, nullptr);
    for (int i = 0; i < 5; ++i) FERRY_ASSERT_OK(Store(*e, i));
    for (int i = 0; i < 5; ++i) EXPECT_EQ(Retrieve(*e, i), kChunk) << i;
    size_t chunks = 0;
    for (const ListEntry& o : Objects()) chunks += !o.name.ends_with(".lease");
    EXPECT_EQ(chunks, 5u) << "one object per chunk";
  }
  EXPECT_EQ(LeaseKey(), "") << "a closed engine releases its lease";
  auto e = Open(GetParam());  // a new process would see the same: everything from LIST
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->Stats().recovered_chunks, 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(Retrieve(*e, i), kChunk) << i;
}

TEST_P(KvObjTest, EvictionAndRemovalDeleteObjects) {
  auto e = Open(GetParam() == 0 ? 0 : 3);
  ASSERT_NE(e, nullptr);
  for (int i = 0; i < 3; ++i) FERRY_ASSERT_OK(Store(*e, i));
  FERRY_ASSERT_OK(e->Remove(e->Keys(Prompt(1))[0]));
  EXPECT_EQ(e->Lookup(Prompt(1)), 0u);
  size_t chunks = 0;
  for (const ListEntry& o : Objects()) chunks += !o.name.ends_with(".lease");
  EXPECT_EQ(chunks, 2u);
  e.reset();
  e = Open(GetParam() == 0 ? 0 : 3);
  EXPECT_EQ(e->Lookup(Prompt(1)), 0u) << "a removed chunk does not come back after a restart";
  EXPECT_EQ(Retrieve(*e, 0), kChunk);
}

TEST_P(KvObjTest, CorruptObjectsAreMissesNeverData) {
  auto e = Open(GetParam());
  ASSERT_NE(e, nullptr);
  for (int i = 0; i < 3; ++i) FERRY_ASSERT_OK(Store(*e, i));
  // Flip a payload byte of every chunk object, keeping the header (a torn or bit-rotted
  // object), and cut another to half its size.
  std::vector<ListEntry> objs = Objects();
  int damaged = 0;
  for (const ListEntry& o : objs) {
    if (o.name.ends_with(".lease")) continue;
    std::vector<uint8_t> body(o.info.size);
    // Read it back, damage it, write it again.
    FERRY_ASSERT_OK(
        MoveObject(agent_.get(), obj_, XferOp::kRead, o.name, body.data(), body.size()));
    if (damaged++ == 0) {
      body.resize(body.size() / 2 + 1);
    } else {
      body[4096 + 100] ^= 0x5a;
    }
    Overwrite(o.name, body);
  }
  EXPECT_EQ(damaged, 3);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Retrieve(*e, i), 0u) << "prompt " << i;
  e.reset();
  e = Open(GetParam());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Retrieve(*e, i), 0u) << "after restart, prompt " << i;
  FERRY_ASSERT_OK(Store(*e, 0));
  EXPECT_EQ(Retrieve(*e, 0), kChunk) << "the engine keeps serving";
}

TEST_P(KvObjTest, OneEnginePerPool) {
  auto first = Open(GetParam());
  ASSERT_NE(first, nullptr);
  Status s;
  auto second = Open(GetParam(), &s);
  EXPECT_EQ(s.code(), Code::kBusy) << s.ToString();
  EXPECT_THAT(s.message(), ::testing::HasSubstr("in use by another engine"));
  EXPECT_THAT(s.message(), ::testing::HasSubstr(".lease"));
  first.reset();
  second = Open(GetParam(), &s);
  FERRY_EXPECT_OK(s);
}

TEST_P(KvObjTest, LeasesOfDeadProcessesAndExpiredLeasesAreTakenOver) {
  { auto e = Open(GetParam()); }
  // A crashed engine of this host: its pid no longer exists.
  const pid_t child = fork();
  if (child == 0) _exit(0);
  ASSERT_GT(child, 0);
  ASSERT_EQ(waitpid(child, nullptr, 0), child);
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  auto e = Open(GetParam());
  const std::string key = LeaseKey();
  ASSERT_FALSE(key.empty());
  e.reset();
  auto lease = [](const LeaseOwner& o) {
    const std::string b = FormatLease(o);
    return std::vector<uint8_t>(b.begin(), b.end());
  };
  Overwrite(key, lease({host, child, "dead", now_ms + 60000}));
  Status s;
  e = Open(GetParam(), &s);
  FERRY_EXPECT_OK(s);
  e.reset();
  // Another host's lease: taken over only once expired.
  Overwrite(key, lease({"other-host", 1, "live", now_ms + 60000}));
  e = Open(GetParam(), &s);
  EXPECT_EQ(s.code(), Code::kBusy) << s.ToString();
  EXPECT_THAT(s.message(), ::testing::HasSubstr("other-host"));
  Overwrite(key, lease({"other-host", 1, "old", now_ms - 1000}));
  e = Open(GetParam(), &s);
  FERRY_EXPECT_OK(s);
}

TEST_P(KvObjTest, BadCredentialsFailTheEngineByName) {
  Config c = ObjConfig(GetParam());
  c.nixl_backend_params["secret_key"] = "not-the-secret";
  std::unique_ptr<Engine> e;
  Status s = Engine::Create(c, SmallOptions(), &e);
  EXPECT_EQ(s.code(), Code::kPermissionDenied) << s.ToString();
  EXPECT_THAT(s.message(), ::testing::HasSubstr("SignatureDoesNotMatch"));
  EXPECT_THAT(s.message(), ::testing::Not(::testing::HasSubstr("not-the-secret")));
}

// The lease on its own, with a short TTL: a renewal that finds the lease replaced marks it
// lost (the engine then refuses to write); a lease left alone is renewed past its TTL.
TEST_F(KvObjTest, ALeaseRenewsItselfAndNoticesWhenTaken) {
  const std::string key = root_.substr(1) + "unit.lease";
  std::unique_ptr<ObjLease> lease;
  FERRY_ASSERT_OK(
      ObjLease::Acquire(agent_.get(), obj_, key, std::chrono::milliseconds(600), &lease));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // several renewals
  EXPECT_FALSE(lease->lost());
  LeaseOwner owner;
  bool live = false;
  FERRY_ASSERT_OK(ObjLease::Inspect(agent_.get(), obj_, key, &owner, &live));
  EXPECT_TRUE(live) << "renewed past its first expiry";
  std::unique_ptr<ObjLease> second;
  EXPECT_EQ(
      ObjLease::Acquire(agent_.get(), obj_, key, std::chrono::milliseconds(600), &second).code(),
      Code::kBusy);
  const std::string other = FormatLease({"thief-host", 1, "thief", owner.expires_ms + 60000});
  Overwrite(key, std::vector<uint8_t>(other.begin(), other.end()));
  for (int i = 0; i < 50 && !lease->lost(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_TRUE(lease->lost());
  lease.reset();  // a lost lease is not deleted: it is someone else's now
  FERRY_ASSERT_OK(ObjLease::Inspect(agent_.get(), obj_, key, &owner, &live));
  EXPECT_EQ(owner.host, "thief-host");
}

// The engine while its server is killed (SIGKILL) and restarted: stores and loads fail with
// a status or succeed, a load never returns wrong bytes, and the engine serves again after.
TEST(KvObjKillTest, EngineKeepsServingAcrossAServerKill) {
  testing::TempDir dir;
  const std::string state = dir.str() + "/s3";
  auto run = [&](const char* cmd) {
    return std::system(
        (std::string(FERRY_VENV_PYTHON) + " " + FERRY_S3_SCRIPT + " " + cmd + " " + state).c_str());
  };
  ASSERT_EQ(run("start"), 0);
  setenv("FERRY_S3_STATE", state.c_str(), 1);
  S3Env env = LoadS3Env();
  ASSERT_TRUE(env.ok) << env.why;
  Config c = testing::SmallConfig("", 8);
  c.nixl_backend = "OBJ";
  c.nixl_path = "/kill/";
  for (const auto& [k, v] : env.BackendParams({{"retry_base_ms", "20"}, {"stall_timeout_s", "5"}}))
    c.nixl_backend_params[k] = v;
  std::unique_ptr<Engine> e;
  FERRY_ASSERT_OK(Engine::Create(c, SmallOptions(), &e));
  std::atomic<bool> stop{false};
  std::atomic<int> good{0}, wrong{0}, failed{0};
  std::thread worker([&] {
    for (int n = 0; !stop.load(); ++n) {
      auto t = Prompt((n / 2) % 6);  // each prompt stored, then loaded
      if (n % 2 == 0) {
        auto kv = MakeKv(t, SmallGeometry());
        if (!e->Store(t, KvLayout::Contiguous(kv.data(), t.size())).ok()) ++failed;
        continue;
      }
      std::vector<uint8_t> out(t.size() * SmallGeometry().BytesPerToken());
      uint64_t restored = 0;
      Status s = e->Retrieve(t, KvLayout::Contiguous(out.data(), t.size()), &restored);
      if (!s.ok()) ++failed;
      if (!testing::PrefixMatches(out, t, SmallGeometry(), restored)) ++wrong;
      if (s.ok() && restored > 0) ++good;
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  EXPECT_EQ(run("restart"), 0);
  const int at_restart = good.load();
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  stop = true;
  worker.join();
  EXPECT_EQ(wrong.load(), 0) << "a load returned bytes that are not the chunk's";
  EXPECT_GT(good.load(), at_restart) << "loads succeeded after the restart";
  for (int i = 0; i < 6; ++i) {
    auto t = Prompt(i);
    auto kv = MakeKv(t, SmallGeometry());
    FERRY_EXPECT_OK(e->Store(t, KvLayout::Contiguous(kv.data(), t.size())));
  }
  e.reset();
  EXPECT_EQ(run("stop"), 0);
  std::printf("engine kill test: %d good loads, %d failed calls\n", good.load(), failed.load());
}

INSTANTIATE_TEST_SUITE_P(Modes, KvObjTest, ::testing::Values(int64_t{8}, int64_t{0}),
                         [](const auto& info) {
                           return info.param == 0 ? std::string("Dynamic") : std::string("Static");
                         });

}  // namespace
}  // namespace ferry::kv
