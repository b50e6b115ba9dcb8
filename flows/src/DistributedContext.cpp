#include "bg/DistributedContext.h"

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/torch.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>

namespace bg {

namespace {

using Milliseconds = std::chrono::milliseconds;

Milliseconds toMilliseconds(double seconds) {
    return Milliseconds(int64_t(seconds * 1000.0 + 0.5));
}

int environmentInteger(const char* name, const char* fallback) {
    const char* text = std::getenv(name);
    if (text == nullptr || *text == '\0') {
        if (fallback == nullptr)
            throw std::invalid_argument(std::string("DistributedContext: the launcher variable ") + name +
                                        " is not set (launch with torchrun or set RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT)");
        text = fallback;
    }
    char* end = nullptr;
    errno = 0;
    const long value = std::strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value < INT32_MIN || value > INT32_MAX)
        throw std::invalid_argument(std::string("DistributedContext: ") + name + "='" + text + "' is not an integer");
    return int(value);
}

/** The Gloo transport device: loopback for a local run, GLOO_SOCKET_IFNAME if set, else this host's name. */
std::shared_ptr<::gloo::transport::Device> glooDevice(const std::string& masterAddress) {
    if (const char* name = std::getenv("GLOO_SOCKET_IFNAME"); name != nullptr && *name != '\0')
        return ::c10d::ProcessGroupGloo::createDeviceForInterface(name);
    if (masterAddress == "localhost" || masterAddress.rfind("127.", 0) == 0)
        return ::c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
    return ::c10d::ProcessGroupGloo::createDefaultDevice();
}

} // namespace

void DistributedSettings::validate() const {
    auto fail = [](const std::string& what) { throw std::invalid_argument("DistributedSettings: " + what); };
    if (worldSize < 1)
        fail("worldSize must be at least 1");
    if (rank < 0 || rank >= worldSize)
        fail("rank must lie in [0, worldSize)");
    if (localRank < 0)
        fail("localRank must not be negative");
    if (masterAddress.empty())
        fail("masterAddress is empty");
    if (masterPort < 1 || masterPort > 65535)
        fail("masterPort must lie in [1, 65535]");
    if (!(timeoutSeconds > 0.0) || !(timeoutSeconds < 1e7))
        fail("timeoutSeconds must be positive");
    if (!(mainRankTimeoutSeconds >= timeoutSeconds) || !(mainRankTimeoutSeconds < 1e7))
        fail("mainRankTimeoutSeconds must be at least timeoutSeconds");
}

/** The process groups of the two channels and their traffic counters. */
class DistributedContext::Groups {
public:
    c10::intrusive_ptr<::c10d::Store> store;
    c10::intrusive_ptr<::c10d::ProcessGroupGloo> main, sampler;
    Traffic mainTraffic, samplerTraffic;
    mutable std::mutex mutex;   // the counters: the channels may be used from two threads

    ::c10d::ProcessGroupGloo& group(Channel channel) {
        return channel == Channel::Main ? *main : *sampler;
    }
    void count(Channel channel, int64_t bytes, double seconds) {
        std::lock_guard<std::mutex> lock(mutex);
        Traffic& t = channel == Channel::Main ? mainTraffic : samplerTraffic;
        t.collectives++;
        t.bytes += bytes;
        t.seconds += seconds;
    }
};

DistributedContext::DistributedContext(const DistributedSettings& s) : settings(s), groups(std::make_unique<Groups>()) {
    settings.validate();
    const std::string where = "DistributedContext: rank " + std::to_string(settings.rank) + " of " + std::to_string(settings.worldSize);
    try {
        ::c10d::TCPStoreOptions storeOptions;
        storeOptions.port = uint16_t(settings.masterPort);
        storeOptions.isServer = settings.rank == 0 && !settings.launcherServesStore;
        storeOptions.numWorkers = size_t(settings.worldSize);
        storeOptions.waitWorkers = true;
        storeOptions.timeout = toMilliseconds(settings.timeoutSeconds);
        groups->store = c10::make_intrusive<::c10d::TCPStore>(settings.masterAddress, storeOptions);
        auto options = ::c10d::ProcessGroupGloo::Options::create(toMilliseconds(settings.timeoutSeconds));
        options->devices.push_back(glooDevice(settings.masterAddress));
        options->threads = 1;
        auto prefixed = [&](const std::string& prefix) { return c10::make_intrusive<::c10d::PrefixStore>(prefix, groups->store); };
        groups->main = c10::make_intrusive<::c10d::ProcessGroupGloo>(prefixed("bg/main/"), settings.rank, settings.worldSize, options);
        groups->sampler = c10::make_intrusive<::c10d::ProcessGroupGloo>(prefixed("bg/sampler/"), settings.rank, settings.worldSize, options);
    }
    catch (const c10::Error& e) {
        throw std::runtime_error(where + ": cannot join the run at " + settings.masterAddress + ":" + std::to_string(settings.masterPort) +
                                 " within " + std::to_string(settings.timeoutSeconds) + " s: " + e.what_without_backtrace());
    }
}

DistributedContext::~DistributedContext() = default;

DistributedSettings DistributedContext::settingsFromEnvironment(double timeoutSeconds) {
    DistributedSettings s;
    s.rank = environmentInteger("RANK", nullptr);
    s.worldSize = environmentInteger("WORLD_SIZE", nullptr);
    s.localRank = environmentInteger("LOCAL_RANK", std::to_string(s.rank).c_str());
    s.masterPort = environmentInteger("MASTER_PORT", "29500");
    if (const char* address = std::getenv("MASTER_ADDR"); address != nullptr && *address != '\0')
        s.masterAddress = address;
    if (const char* agentStore = std::getenv("TORCHELASTIC_USE_AGENT_STORE"); agentStore != nullptr)
        s.launcherServesStore = std::string(agentStore) == "True";
    s.timeoutSeconds = timeoutSeconds;
    s.mainRankTimeoutSeconds = std::max(s.mainRankTimeoutSeconds, timeoutSeconds);
    s.validate();
    return s;
}

std::shared_ptr<DistributedContext> DistributedContext::fromEnvironment(double timeoutSeconds) {
    return std::make_shared<DistributedContext>(settingsFromEnvironment(timeoutSeconds));
}

namespace {

/** Wait for a collective; turn any failure (peer closed, timeout) into a runtime_error naming it. */
void finish(const c10::intrusive_ptr<::c10d::Work>& work, const DistributedSettings& s, const char* what, double timeoutSeconds) {
    try {
        work->wait();
    }
    catch (const std::exception& e) {
        std::string message = e.what();
        if (const auto* error = dynamic_cast<const c10::Error*>(&e))
            message = error->what_without_backtrace();
        throw std::runtime_error("DistributedContext: rank " + std::to_string(s.rank) + " of " + std::to_string(s.worldSize) + ": " +
                                 what + " failed (a peer rank died, hung or diverged; timeout " + std::to_string(int64_t(timeoutSeconds)) +
                                 " s): " + message);
    }
}

} // namespace

void DistributedContext::averageGradients(const std::vector<torch::Tensor>& parameters) {
    torch::NoGradGuard noGrad;
    if (parameters.empty())
        return;
    // One buffer in the parameters' floating type (float64 if they differ), on the host.
    auto dtype = parameters[0].scalar_type();
    for (const auto& p : parameters)
        if (p.scalar_type() != dtype)
            dtype = torch::kFloat64;
    std::vector<torch::Tensor> flat;
    flat.reserve(parameters.size());
    for (const auto& p : parameters)
        flat.push_back(p.grad().defined() ? p.grad().detach().reshape(-1).to(torch::kCPU, dtype) : torch::zeros({p.numel()}, dtype));
    std::vector<torch::Tensor> buffer{torch::cat(flat)};
    const auto start = std::chrono::steady_clock::now();
    finish(groups->main->allreduce(buffer), settings, "the gradient all-reduce", settings.timeoutSeconds);
    groups->count(Channel::Main, int64_t(buffer[0].nbytes()),
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    buffer[0].div_(double(settings.worldSize));
    int64_t offset = 0;
    for (const auto& p : parameters) {
        torch::Tensor mean = buffer[0].narrow(0, offset, p.numel()).view(p.sizes()).to(p.device(), p.scalar_type());
        offset += p.numel();
        if (p.grad().defined())
            p.mutable_grad().copy_(mean);
        else
            p.mutable_grad() = mean.clone();
    }
}

std::vector<double> DistributedContext::sum(const std::vector<double>& values, Channel channel) {
    std::vector<torch::Tensor> buffer{torch::tensor(values, torch::kFloat64)};
    const auto start = std::chrono::steady_clock::now();
    finish(groups->group(channel).allreduce(buffer), settings, "a statistics all-reduce", settings.timeoutSeconds);
    groups->count(channel, int64_t(values.size() * sizeof(double)), std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    return std::vector<double>(buffer[0].data_ptr<double>(), buffer[0].data_ptr<double>() + values.size());
}

bool DistributedContext::any(bool flag, Channel channel) {
    return sum({flag ? 1.0 : 0.0}, channel)[0] > 0.0;
}

std::string DistributedContext::broadcast(const std::string& bytes) {
    const auto start = std::chrono::steady_clock::now();
    ::c10d::BroadcastOptions options;
    options.rootRank = 0;
    options.timeout = toMilliseconds(settings.mainRankTimeoutSeconds);
    std::vector<torch::Tensor> length{torch::tensor({int64_t(bytes.size())}, torch::kInt64)};
    finish(groups->main->broadcast(length, options), settings, "a broadcast from rank 0", settings.mainRankTimeoutSeconds);
    const int64_t n = length[0].item<int64_t>();
    std::vector<torch::Tensor> data{torch::empty({n}, torch::kUInt8)};
    if (isMain() && n > 0)
        std::memcpy(data[0].data_ptr<uint8_t>(), bytes.data(), size_t(n));
    if (n > 0) {
        options.timeout = toMilliseconds(settings.timeoutSeconds);
        finish(groups->main->broadcast(data, options), settings, "a broadcast from rank 0", settings.timeoutSeconds);
    }
    groups->count(Channel::Main, n + 8, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    return std::string(reinterpret_cast<const char*>(data[0].data_ptr<uint8_t>()), size_t(n));
}

std::vector<std::string> DistributedContext::gather(const std::string& bytes) {
    const auto start = std::chrono::steady_clock::now();
    // Gloo gathers equal sizes: agree on the longest, pad, and send each length in front.
    std::vector<torch::Tensor> longest{torch::tensor({int64_t(bytes.size())}, torch::kInt64)};
    ::c10d::AllreduceOptions maxOptions;
    maxOptions.reduceOp = ::c10d::ReduceOp::MAX;
    maxOptions.timeout = toMilliseconds(settings.timeoutSeconds);
    finish(groups->main->allreduce(longest, maxOptions), settings, "a gather to rank 0", settings.timeoutSeconds);
    const int64_t width = longest[0].item<int64_t>() + 8;
    std::vector<torch::Tensor> input{torch::zeros({width}, torch::kUInt8)};
    const int64_t length = int64_t(bytes.size());
    std::memcpy(input[0].data_ptr<uint8_t>(), &length, 8);
    std::memcpy(input[0].data_ptr<uint8_t>() + 8, bytes.data(), bytes.size());
    std::vector<std::vector<torch::Tensor>> output;
    if (isMain()) {
        output.emplace_back();
        for (int r = 0; r < settings.worldSize; r++)
            output[0].push_back(torch::empty({width}, torch::kUInt8));
    }
    ::c10d::GatherOptions options;
    options.rootRank = 0;
    options.timeout = toMilliseconds(settings.timeoutSeconds);
    finish(groups->main->gather(output, input, options), settings, "a gather to rank 0", settings.timeoutSeconds);
    groups->count(Channel::Main, width, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    std::vector<std::string> result;
    if (isMain())
        for (const torch::Tensor& t : output[0]) {
            int64_t n = 0;
            std::memcpy(&n, t.data_ptr<uint8_t>(), 8);
            result.emplace_back(reinterpret_cast<const char*>(t.data_ptr<uint8_t>()) + 8, size_t(n));
        }
    return result;
}

DistributedContext::Traffic DistributedContext::traffic(Channel channel) const {
    std::lock_guard<std::mutex> lock(groups->mutex);
    return channel == Channel::Main ? groups->mainTraffic : groups->samplerTraffic;
}

void DistributedContext::resetTraffic() {
    std::lock_guard<std::mutex> lock(groups->mutex);
    groups->mainTraffic = Traffic();
    groups->samplerTraffic = Traffic();
}

} // namespace bg
