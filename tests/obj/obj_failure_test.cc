// The OBJ backend when things go wrong: bad credentials, a missing bucket, a server that is
// down or killed mid-transfer, bad parameters. Errors name the S3 code; secrets never show.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

#include <atomic>
#include <thread>

#include "obj/obj_test_util.h"

namespace ferry::test {
namespace {

Status CreateObj(Agent* agent, const Params& p, BackendId* id) {
  return agent->CreateBackend("OBJ", p, id);
}

TEST_F(ObjTest, WrongSecretIsRefusedAndNeverEchoed) {
  BackendId bad;
  const std::string secret = "wrong-secret-value-xyz";
  FERRY_ASSERT_OK(CreateObj(agent_.get(), env_.BackendParams({{"secret_key", secret}}), &bad));
  std::vector<uint8_t> d(100, 1);
  Status s = Move(XferOp::kWrite, prefix_ + "w", d.data(), d.size(), 0, {}, bad);
  EXPECT_EQ(s.code(), Code::kPermissionDenied) << s.ToString();
  EXPECT_NE(s.message().find("SignatureDoesNotMatch"), std::string::npos) << s.ToString();
  EXPECT_EQ(s.message().find(secret), std::string::npos);
  EXPECT_EQ(s.message().find(env_.secret_key), std::string::npos);
  std::vector<QueryResult> q;
  s = agent_->QueryMem({MemKind::kObj, {ObjectKey(prefix_ + "w")}}, &q, bad);
  EXPECT_EQ(s.code(), Code::kPermissionDenied) << s.ToString();
  EXPECT_FALSE(Head(prefix_ + "w").exists) << "nothing was written with the wrong secret";
}

TEST_F(ObjTest, UnknownAccessKeyIsRefused) {
  BackendId bad;
  FERRY_ASSERT_OK(CreateObj(agent_.get(), env_.BackendParams({{"access_key", "nobody"}}), &bad));
  std::vector<ListEntry> l;
  Status s = agent_->ListMem(MemKind::kObj, prefix_, &l, bad);
  EXPECT_EQ(s.code(), Code::kPermissionDenied) << s.ToString();
}

TEST_F(ObjTest, MissingBucketIsNotFoundNamingIt) {
  BackendId nb;
  FERRY_ASSERT_OK(CreateObj(agent_.get(), env_.BackendParams({{"bucket", "no-such-bucket"}}), &nb));
  std::vector<uint8_t> d(10, 1);
  Status s = Move(XferOp::kRead, "k", d.data(), d.size(), 0, {}, nb);
  EXPECT_EQ(s.code(), Code::kNotFound) << s.ToString();
  EXPECT_NE(s.message().find("NoSuchBucket"), std::string::npos) << s.ToString();
}

TEST_F(ObjTest, ServerThatIsDownIsDisconnectedAfterBoundedRetries) {
  BackendId down;
  // A loopback port nobody listens on (the fixture's own port + a random offset would
  // race; port 1 is privileged and unused here).
  FERRY_ASSERT_OK(CreateObj(agent_.get(),
                            env_.BackendParams({{"endpoint_override", "http://127.0.0.1:1"},
                                                {"max_retries", "3"},
                                                {"retry_base_ms", "10"}}),
                            &down));
  std::vector<uint8_t> d(10, 1);
  const auto t0 = std::chrono::steady_clock::now();
  Status s = Move(XferOp::kWrite, "k", d.data(), d.size(), 0, {}, down);
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(s.code(), Code::kDisconnected) << s.ToString();
  EXPECT_NE(s.message().find("after 4 attempts"), std::string::npos) << s.ToString();
  EXPECT_LT(took, std::chrono::seconds(10));
}

TEST_F(ObjTest, BadParametersAreNamed) {
  BackendId b;
  Status s = CreateObj(agent_.get(), env_.BackendParams({{"part_size", "1M"}}), &b);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("part_size"), std::string::npos) << s.ToString();
  s = CreateObj(agent_.get(), env_.BackendParams({{"num_threads", "0"}}), &b);
  EXPECT_NE(s.message().find("num_threads"), std::string::npos) << s.ToString();
  s = CreateObj(agent_.get(), env_.BackendParams({{"bucket", ""}}), &b);
  EXPECT_NE(s.message().find("bucket"), std::string::npos) << s.ToString();
  s = CreateObj(agent_.get(), env_.BackendParams({{"endpoint_override", "ftp://x"}}), &b);
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
  Params no_secret = env_.BackendParams();
  no_secret.erase("secret_key");
  unsetenv("AWS_SECRET_ACCESS_KEY");
  s = CreateObj(agent_.get(), no_secret, &b);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("secret_key"), std::string::npos) << s.ToString();
}

TEST_F(ObjTest, CredentialsFromTheAwsEnvironment) {
  Params p = env_.BackendParams();
  p.erase("access_key");
  p.erase("secret_key");
  setenv("AWS_ACCESS_KEY_ID", env_.access_key.c_str(), 1);
  setenv("AWS_SECRET_ACCESS_KEY", env_.secret_key.c_str(), 1);
  BackendId b;
  Status s = CreateObj(agent_.get(), p, &b);
  unsetenv("AWS_ACCESS_KEY_ID");
  unsetenv("AWS_SECRET_ACCESS_KEY");
  FERRY_ASSERT_OK(s);
  std::vector<uint8_t> d(10, 3);
  FERRY_EXPECT_OK(Move(XferOp::kWrite, prefix_ + "env", d.data(), d.size(), 0, {}, b));
}

TEST_F(ObjTest, TlsNeedsATrustedCertificateAndWorksWithCaBundle) {
  ASSERT_FALSE(env_.https_endpoint.empty()) << "the fixture serves TLS too";
  BackendId untrusted, trusted;
  FERRY_ASSERT_OK(CreateObj(
      agent_.get(),
      env_.BackendParams({{"endpoint_override", env_.https_endpoint}, {"max_retries", "0"}}),
      &untrusted));
  std::vector<uint8_t> d = Random(5000, 31);
  Status s = Move(XferOp::kWrite, prefix_ + "tls", d.data(), d.size(), 0, {}, untrusted);
  EXPECT_EQ(s.code(), Code::kPermissionDenied) << s.ToString();
  EXPECT_NE(s.message().find("TLS"), std::string::npos) << s.ToString();
  FERRY_ASSERT_OK(CreateObj(
      agent_.get(),
      env_.BackendParams({{"endpoint_override", env_.https_endpoint}, {"ca_bundle", env_.ca_file}}),
      &trusted));
  FERRY_ASSERT_OK(Move(XferOp::kWrite, prefix_ + "tls", d.data(), d.size(), 0, {}, trusted));
  std::vector<uint8_t> back(d.size());
  FERRY_ASSERT_OK(Move(XferOp::kRead, prefix_ + "tls", back.data(), back.size(), 0, {}, trusted));
  EXPECT_EQ(back, d);
}

// tests/obj/fault_proxy.py in front of the test server: the first `faults` requests get
// an S3 error without reaching it; the rest are forwarded.
class FaultProxy {
 public:
  FaultProxy(const std::string& upstream, int faults, int status = 503,
             const char* code = "SlowDown") {
    int in[2], out[2];
    if (pipe(in) != 0 || pipe(out) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(in[0], 0);
      dup2(out[1], 1);
      close(in[1]);
      close(out[0]);
      const std::string f = std::to_string(faults), st = std::to_string(status);
      execl(FERRY_VENV_PYTHON, FERRY_VENV_PYTHON, FERRY_FAULT_PROXY, upstream.c_str(), f.c_str(),
            st.c_str(), code, static_cast<char*>(nullptr));
      _exit(127);
    }
    close(in[0]);
    close(out[1]);
    to_ = in[1];
    from_ = fdopen(out[0], "r");
    char line[64] = {0};
    if (from_ != nullptr && fgets(line, sizeof(line), from_) != nullptr)
      std::sscanf(line, "PORT %d", &port_);
  }
  ~FaultProxy() { (void)Stop(); }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  bool ok() const { return port_ > 0; }
  // Stops the proxy; the number of requests it saw.
  int Stop() {
    if (pid_ <= 0) return seen_;
    close(to_);
    char line[64] = {0};
    if (fgets(line, sizeof(line), from_) != nullptr) std::sscanf(line, "SEEN %d", &seen_);
    fclose(from_);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
    return seen_;
  }

 private:
  pid_t pid_ = -1;
  int to_ = -1;
  FILE* from_ = nullptr;
  int port_ = 0;
  int seen_ = 0;
};

TEST_F(ObjTest, SlowDownIsRetriedWithBackoffAndSucceeds) {
  FaultProxy proxy(env_.endpoint, 2);
  ASSERT_TRUE(proxy.ok());
  BackendId b;
  FERRY_ASSERT_OK(CreateObj(
      agent_.get(),
      env_.BackendParams(
          {{"endpoint_override", proxy.endpoint()}, {"max_retries", "4"}, {"retry_base_ms", "20"}}),
      &b));
  auto d = Random(50000, 21);
  const auto t0 = std::chrono::steady_clock::now();
  FERRY_ASSERT_OK(Move(XferOp::kWrite, prefix_ + "slow", d.data(), d.size(), 0, {}, b));
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(proxy.Stop(), 3) << "two refused attempts, then the one that went through";
  EXPECT_GE(took, std::chrono::milliseconds(20)) << "the retries waited (backoff)";
  std::vector<uint8_t> back;
  FERRY_ASSERT_OK(Get(prefix_ + "slow", &back, 0, d.size()));
  EXPECT_EQ(back, d);
}

// A PUT whose body stops short (the client died, or the network did) must leave the old
// object: S3 refuses a body shorter than its Content-Length, but SeaweedFS stores an empty
// object when the headers came and no byte of the body did (with put_checksum=none this
// test fails there), so the PUT carries a checksum the server checks (put_checksum).
TEST_F(ObjTest, ABodyTornOnTheWayLeavesTheOldObject) {
  auto old_data = Random(1 << 20, 51);
  FERRY_ASSERT_OK(Put(prefix_ + "torn", old_data));
  for (int torn : {-1, -2}) {  // the proxy forwards the headers only, or half the body
    SCOPED_TRACE(torn == -1 ? "no byte of the body" : "half the body");
    FaultProxy proxy(env_.endpoint, 1, torn);
    ASSERT_TRUE(proxy.ok());
    BackendId b;
    FERRY_ASSERT_OK(CreateObj(
        agent_.get(),
        env_.BackendParams({{"endpoint_override", proxy.endpoint()}, {"max_retries", "0"}}), &b));
    auto new_data = Random(3 << 20, 52);
    Status s = Move(XferOp::kWrite, prefix_ + "torn", new_data.data(), new_data.size(), 0, {}, b);
    EXPECT_FALSE(s.ok()) << "the client was told the PUT failed";
    EXPECT_EQ(proxy.Stop(), 1);
    const QueryResult q = Head(prefix_ + "torn");
    ASSERT_TRUE(q.exists);
    EXPECT_EQ(q.size, old_data.size()) << "the torn body replaced the object";
    std::vector<uint8_t> back;
    FERRY_ASSERT_OK(Get(prefix_ + "torn", &back, 0, old_data.size()));
    EXPECT_TRUE(back == old_data);
  }
}

TEST_F(ObjTest, PersistentServerErrorsFailRetryablyAfterTheLastAttempt) {
  FaultProxy proxy(env_.endpoint, 1000, 500, "InternalError");
  ASSERT_TRUE(proxy.ok());
  BackendId b;
  FERRY_ASSERT_OK(CreateObj(
      agent_.get(),
      env_.BackendParams(
          {{"endpoint_override", proxy.endpoint()}, {"max_retries", "2"}, {"retry_base_ms", "5"}}),
      &b));
  std::vector<uint8_t> d(100, 1);
  Status s = Move(XferOp::kRead, prefix_ + "x", d.data(), d.size(), 0, {}, b);
  EXPECT_EQ(s.code(), Code::kTryAgain) << s.ToString();
  EXPECT_TRUE(IsRetryable(s.code()));
  EXPECT_NE(s.message().find("InternalError"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("after 3 attempts"), std::string::npos) << s.ToString();
  EXPECT_EQ(proxy.Stop(), 3);
}

TEST_F(ObjTest, AServerThatStopsAnsweringTimesOutAndIsRetried) {
  FaultProxy silent(env_.endpoint, 1, 0);  // the first request never gets an answer
  ASSERT_TRUE(silent.ok());
  BackendId b;
  FERRY_ASSERT_OK(CreateObj(agent_.get(),
                            env_.BackendParams({{"endpoint_override", silent.endpoint()},
                                                {"stall_timeout_s", "1"},
                                                {"max_retries", "1"},
                                                {"retry_base_ms", "5"}}),
                            &b));
  auto d = Random(1000, 41);
  const auto t0 = std::chrono::steady_clock::now();
  FERRY_ASSERT_OK(Move(XferOp::kWrite, prefix_ + "stall", d.data(), d.size(), 0, {}, b));
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(took, std::chrono::milliseconds(900)) << "the first attempt waited out the stall";
  EXPECT_LT(took, std::chrono::seconds(10));
  EXPECT_EQ(silent.Stop(), 2);
  FaultProxy mute(env_.endpoint, 1000, 0);  // nothing ever answers
  ASSERT_TRUE(mute.ok());
  FERRY_ASSERT_OK(CreateObj(agent_.get(),
                            env_.BackendParams({{"endpoint_override", mute.endpoint()},
                                                {"stall_timeout_s", "1"},
                                                {"max_retries", "1"},
                                                {"retry_base_ms", "5"}}),
                            &b));
  Status s = Move(XferOp::kRead, prefix_ + "stall", d.data(), d.size(), 0, {}, b);
  EXPECT_EQ(s.code(), Code::kTimedOut) << s.ToString();
  EXPECT_NE(s.message().find("after 2 attempts"), std::string::npos) << s.ToString();
}

// A server of its own, killed and restarted while transfers run: each either fails with a
// clear status or returns exactly what was written, and service resumes.
TEST(ObjKillTest, ServerKilledMidTransferNeverYieldsCorruptData) {
  const char* py = FERRY_VENV_PYTHON;
  const char* script = FERRY_S3_SCRIPT;
  TempDir dir;
  const std::string state = dir.path() + "/s3";
  auto run = [&](const char* cmd) {
    return std::system((std::string(py) + " " + script + " " + cmd + " " + state).c_str());
  };
  ASSERT_EQ(run("start"), 0);
  setenv("FERRY_S3_STATE", state.c_str(), 1);
  S3Env env = LoadS3Env();
  ASSERT_TRUE(env.ok) << env.why;
  std::unique_ptr<Agent> agent;
  FERRY_ASSERT_OK(Agent::Create("kill-test", {}, &agent));
  BackendId obj;
  FERRY_ASSERT_OK(agent->CreateBackend(
      "OBJ",
      env.BackendParams({{"max_retries", "2"}, {"retry_base_ms", "20"}, {"stall_timeout_s", "5"}}),
      &obj));
  constexpr uint64_t kLen = 4 << 20;
  constexpr int kKeys = 6;
  std::vector<std::vector<uint8_t>> want;
  for (int i = 0; i < kKeys; ++i) want.push_back(ObjTest::Random(kLen, 100 + i));
  std::atomic<bool> stop{false};
  std::atomic<int> ok_reads{0}, failed{0}, corrupt{0}, odd_status{0};
  std::vector<uint8_t> buf(kLen);
  RegOptions reg;
  reg.backends = {obj};
  RegHandle local, remote;
  FERRY_ASSERT_OK(agent->RegisterMem({MemKind::kDram, {DramDesc(buf.data(), kLen)}}, &local, reg));
  MemDescList objs{MemKind::kObj, {}};
  for (int i = 0; i < kKeys; ++i)
    objs.descs.push_back({0, 0, uint64_t(i), "kill/" + std::to_string(i)});
  FERRY_ASSERT_OK(agent->RegisterMem(objs, &remote, reg));
  auto move = [&](XferOp op, int key, const uint8_t* src) {
    if (src != nullptr) std::memcpy(buf.data(), src, kLen);
    std::unique_ptr<Transfer> x;
    Status s = agent->CreateTransfer(
        op, {MemKind::kDram, {{reinterpret_cast<uint64_t>(buf.data()), kLen, 0}}},
        {MemKind::kObj, {{0, kLen, uint64_t(key)}}}, "", &x);
    if (s.ok()) s = x->Post();
    if (s.ok()) s = x->Wait(kWaitLimit);
    return s;
  };
  for (int i = 0; i < kKeys; ++i) FERRY_ASSERT_OK(move(XferOp::kWrite, i, want[i].data()));
  std::thread worker([&] {
    for (int n = 0; !stop.load(); ++n) {
      const int key = n % kKeys;
      Status s = (n % 3 == 0) ? move(XferOp::kWrite, key, want[key].data())
                              : move(XferOp::kRead, key, nullptr);
      if (s.ok()) {
        if (n % 3 != 0) {
          if (buf == want[key])
            ++ok_reads;
          else
            ++corrupt;
        }
      } else {
        ++failed;
        const Code c = s.code();
        if (c != Code::kDisconnected && c != Code::kTryAgain && c != Code::kTimedOut &&
            c != Code::kIoError && c != Code::kNotFound)
          ++odd_status;
      }
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const int before = ok_reads.load();
  EXPECT_EQ(run("restart"), 0);  // SIGKILL, then the same ports and data again
  const int at_restart = ok_reads.load();
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  stop = true;
  worker.join();
  EXPECT_EQ(corrupt.load(), 0);
  EXPECT_EQ(odd_status.load(), 0);
  EXPECT_GT(before, 0) << "reads went through before the kill";
  EXPECT_GT(ok_reads.load(), at_restart) << "service resumed after the restart";
  // Everything reads back exactly after the restart (rewritten if the kill lost it).
  for (int i = 0; i < kKeys; ++i) {
    Status s = move(XferOp::kRead, i, nullptr);
    if (s.code() == Code::kNotFound) {
      FERRY_ASSERT_OK(move(XferOp::kWrite, i, want[i].data()));
      s = move(XferOp::kRead, i, nullptr);
    }
    FERRY_ASSERT_OK(s);
    EXPECT_TRUE(buf == want[i]) << "key " << i;
  }
  (void)agent->DeregisterMem(remote);
  (void)agent->DeregisterMem(local);
  agent.reset();
  EXPECT_EQ(run("stop"), 0);
  std::printf("kill test: %d good reads before the kill, %d after, %d failed cleanly\n", before,
              ok_reads.load() - at_restart, failed.load());
}

}  // namespace
}  // namespace ferry::test
