// An agent with an OBJ backend on the test server, and one-call helpers to put and get
// objects through transfers.
#pragma once

#include <random>
#include <string>
#include <vector>

#include "integration/test_util.h"
#include "obj/s3_env.h"

namespace ferry::test {

class ObjTest : public ::testing::Test {
 public:
  static std::vector<uint8_t> Random(size_t n, uint64_t seed) {
    std::vector<uint8_t> v(n);
    std::mt19937_64 rng(seed);
    for (size_t i = 0; i + 8 <= n; i += 8) {
      const uint64_t x = rng();
      std::memcpy(&v[i], &x, 8);
    }
    for (size_t i = n / 8 * 8; i < n; ++i) v[i] = static_cast<uint8_t>(rng());
    return v;
  }

 protected:
  void SetUp() override {
    env_ = LoadS3Env();
    ASSERT_TRUE(env_.ok) << env_.why;
    FERRY_ASSERT_OK(Agent::Create("obj-test", {}, &agent_));
    FERRY_ASSERT_OK(agent_->CreateBackend("OBJ", env_.BackendParams(Extra()), &obj_));
    prefix_ =
        std::string("t/") + ::testing::UnitTest::GetInstance()->current_test_info()->name() + "/";
  }
  virtual Params Extra() const { return {}; }

  // One transfer between `buf` and object `key` at `offset`, waited for.
  Status Move(XferOp op, const std::string& key, uint8_t* buf, uint64_t len, uint64_t offset = 0,
              const Params& args = {}, BackendId backend = {}) {
    const BackendId be = backend.valid() ? backend : obj_;
    RegOptions reg;
    reg.backends = {be};
    RegHandle local, remote;
    Status s = agent_->RegisterMem({MemKind::kDram, {DramDesc(buf, len)}}, &local, reg);
    if (!s.ok()) return s;
    MemDesc obj{0, 0, 7, key};
    s = agent_->RegisterMem({MemKind::kObj, {obj}}, &remote, reg);
    if (s.ok()) {
      XferOptions xo;
      xo.backend = be;
      xo.args.params = args;
      std::unique_ptr<Transfer> x;
      s = agent_->CreateTransfer(op, {MemKind::kDram, {{reinterpret_cast<uint64_t>(buf), len, 0}}},
                                 {MemKind::kObj, {{offset, len, 7}}}, "", &x, xo);
      if (s.ok()) s = x->Post();
      if (s.ok()) s = x->Wait(kWaitLimit);
      (void)agent_->DeregisterMem(remote);
    }
    (void)agent_->DeregisterMem(local);
    return s;
  }
  Status Put(const std::string& key, std::vector<uint8_t>& data, const Params& args = {}) {
    return Move(XferOp::kWrite, key, data.data(), data.size(), 0, args);
  }
  Status Get(const std::string& key, std::vector<uint8_t>* out, uint64_t offset, uint64_t len) {
    out->assign(len, 0);
    return Move(XferOp::kRead, key, out->data(), len, offset);
  }
  QueryResult Head(const std::string& key) {
    std::vector<QueryResult> q;
    Status s = agent_->QueryMem({MemKind::kObj, {ObjectKey(key)}}, &q, obj_);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return q.empty() ? QueryResult{} : q[0];
  }

  S3Env env_;
  std::unique_ptr<Agent> agent_;
  BackendId obj_;
  std::string prefix_;
};

}  // namespace ferry::test
