#ifndef BG_TESTS_RANK_LAUNCHER_H_
#define BG_TESTS_RANK_LAUNCHER_H_

// Starts the ranks of a data-parallel run on this machine the way torchrun would: the running
// executable again, once per rank, with RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR=127.0.0.1 and
// MASTER_PORT=<a free loopback port> set. Used by the distributed tests and benchmark.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace bgtest {

/** A TCP port on the loopback interface that was free a moment ago. */
inline int freePort() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    socklen_t length = sizeof(address);
    const bool ok = fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
                    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
    if (fd >= 0)
        ::close(fd);
    if (!ok)
        throw std::runtime_error("freePort: no free loopback port");
    return ntohs(address.sin_port);
}

/** A started rank: its process, and once it ended, its wait status and when it was seen to end. */
struct Rank {
    pid_t pid = -1;
    int status = -1;
    bool done = false;
    std::chrono::steady_clock::time_point ended;
};

/**
 * Start `world` ranks: this executable with `arguments`, the launcher variables and `extra` in the
 * environment (OMP_NUM_THREADS=1), stdout and stderr of rank r into dir/rank<r>.log.
 */
inline std::vector<Rank> startRanks(int world, const std::vector<std::string>& arguments, const std::string& dir,
                                    const std::map<std::string, std::string>& extra = {}) {
    const std::string port = std::to_string(freePort());
    const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
    std::vector<Rank> ranks(world);
    for (int r = 0; r < world; r++) {
        std::map<std::string, std::string> variables = {{"RANK", std::to_string(r)},  {"WORLD_SIZE", std::to_string(world)},
                                                         {"LOCAL_RANK", std::to_string(r)}, {"MASTER_ADDR", "127.0.0.1"},
                                                         {"MASTER_PORT", port},          {"OMP_NUM_THREADS", "1"}};
        for (const auto& [name, value] : extra)
            variables[name] = value;
        std::vector<std::string> entries;
        for (char** e = environ; *e != nullptr; e++) {
            const std::string entry = *e;
            if (variables.count(entry.substr(0, entry.find('='))) == 0)
                entries.push_back(entry);
        }
        for (const auto& [name, value] : variables)
            entries.push_back(name + "=" + value);
        std::vector<char*> envp, argv{const_cast<char*>(self.c_str())};
        for (auto& entry : entries)
            envp.push_back(entry.data());
        envp.push_back(nullptr);
        for (const std::string& argument : arguments)
            argv.push_back(const_cast<char*>(argument.c_str()));
        argv.push_back(nullptr);
        const std::string log = dir + "/rank" + std::to_string(r) + ".log";
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        posix_spawn_file_actions_adddup2(&actions, 1, 2);
        const int failed = posix_spawn(&ranks[r].pid, self.c_str(), &actions, nullptr, argv.data(), envp.data());
        posix_spawn_file_actions_destroy(&actions);
        if (failed != 0)
            throw std::runtime_error("startRanks: cannot start rank " + std::to_string(r));
    }
    return ranks;
}

/** Wait until every rank has exited or `seconds` passed (then kill the rest); true if all exited by themselves. */
inline bool waitForRanks(std::vector<Rank>& ranks, double seconds) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (true) {
        bool all = true;
        for (Rank& r : ranks)
            if (!r.done) {
                if (::waitpid(r.pid, &r.status, WNOHANG) == r.pid) {
                    r.done = true;
                    r.ended = std::chrono::steady_clock::now();
                }
                else
                    all = false;
            }
        if (all)
            return true;
        if (std::chrono::steady_clock::now() > deadline) {
            for (Rank& r : ranks)
                if (!r.done) {
                    ::kill(r.pid, SIGKILL);
                    ::waitpid(r.pid, &r.status, 0);
                    r.done = true;
                }
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

/** The whole text of a file (empty if it cannot be read). */
inline std::string readText(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

} // namespace bgtest

#endif
