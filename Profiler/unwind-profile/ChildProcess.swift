// Runs the profiled program as perf does: same process group and terminal,
// the environment given, SIGINT and SIGTERM sent to us passed on to it, and
// its exit status returned the way a shell reports it.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

enum ChildProcess {
    enum SpawnFailure: Error {
        /// posix_spawnp's error (ENOENT: not found, EACCES: not executable).
        case spawn(program: String, errno: Int32)
    }

    /// Spawns `arguments[0]` (searched in PATH) with `environment` and waits
    /// for it.  Returns its exit status, or 128 + the signal that killed it.
    ///
    /// SIGINT, SIGTERM and SIGCHLD are blocked here and taken with
    /// sigwaitinfo, so no handler runs in this process.  The child gets an
    /// empty mask and default dispositions.  A SIGINT typed at the terminal
    /// already reached the child (same process group, si_code SI_KERNEL), so
    /// only signals sent to us by kill() (SI_USER, SI_QUEUE, ...) are
    /// forwarded; forwarding the terminal's too would deliver it twice.
    /// The mask is per thread: this command line has only its main thread
    /// here (a program it runs sees one task in /proc/<ppid>/task).
    static func run(_ arguments: [String], environment: [String]) throws(SpawnFailure) -> Int32 {
        var watched = sigset_t()
        sigemptyset(&watched)
        for sig in [SIGINT, SIGTERM, SIGCHLD] { sigaddset(&watched, sig) }
        var previous = sigset_t()
        pthread_sigmask(SIG_BLOCK, &watched, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &watched)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer {
            for p in argv { free(p) }
            for p in envp { free(p) }
        }
        var pid = pid_t()
        let rc = posix_spawnp(&pid, arguments[0], nil, &attributes, argv, envp)
        guard rc == 0 else { throw .spawn(program: arguments[0], errno: rc) }

        var status: Int32 = 0
        while true {
            var info = siginfo_t()
            let sig = sigwaitinfo(&watched, &info)
            if sig == SIGCHLD || sig < 0 {
                // Reap only our child; sig < 0 is EINTR (a stop/continue).
                let r = waitpid(pid, &status, WNOHANG)
                if r == pid { break }
                if r < 0 && errno != EINTR { return 127 }
            } else if info.si_code != Int32(SI_KERNEL) {
                kill(pid, sig)
            }
        }
        let termination = status & 0x7f
        return termination == 0 ? (status >> 8) & 0xff : 128 + termination
    }
}
