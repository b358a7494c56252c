import os, signal, sys, time, subprocess
pre, mode = sys.argv[1], sys.argv[2]
if pre == "subprocess":
    subprocess.run(["/bin/true"])
elif pre == "fork":
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
elif pre == "forkexec":
    pid = os.fork()
    if pid == 0:
        os.execv("/bin/true", ["/bin/true"])
    os.waitpid(pid, 0)
fd = os.open(f'/proc/{os.getpid()}', os.O_DIRECTORY)
ok = late = never = 0
for i in range(100):
    try:
        try:
            if mode == "pidfd":
                signal.pidfd_send_signal(fd, signal.SIGINT)
            elif mode == "kill":
                os.kill(os.getpid(), signal.SIGINT)
            else:
                signal.raise_signal(signal.SIGINT)
            try:
                time.sleep(0.02)
                never += 1
            except KeyboardInterrupt:
                late += 1
        except KeyboardInterrupt:
            ok += 1
    except KeyboardInterrupt:
        late += 1
print(f"after {pre}, {mode}: raised at the call {ok}, late {late}, never (within 20 ms) {never}")
