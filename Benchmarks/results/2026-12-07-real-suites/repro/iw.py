# test_io PySignalsTest.check_interrupted_write / check_interrupted_read_retry, standalone
import _pyio as pyio, io, os, signal, sys, threading, time
which = sys.argv[1]; mod = pyio if sys.argv[2] == "py" else io; n = int(sys.argv[3])
def alarm_interrupt(sig, frame): 1/0
def one_write():
    signal.signal(signal.SIGALRM, alarm_interrupt)
    r, w = os.pipe()
    res = []
    t = threading.Thread(target=lambda: res.append(os.read(r, 1)), daemon=True)
    wio = mod.open(w, "wb", closefd=False)
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGALRM]); t.start(); signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGALRM])
    signal.alarm(1)
    try:
        wio.write(b"xy" * (4194304 // 2 + 1)); ok = False
    except ZeroDivisionError:
        ok = True
    finally:
        signal.alarm(0); t.join()
    try: wio.close()
    except Exception: pass
    os.close(r); os.close(w)
    return ok
def one_read():
    r, w = os.pipe()
    signal.signal(signal.SIGALRM, lambda s, f: os.write(w, b"bar"))
    rio = mod.open(r, "rb", closefd=False)
    os.write(w, b"foo"); signal.alarm(1)
    try: ok = rio.read(6) == b"foobar"
    finally: signal.alarm(0); rio.close(); os.close(w); os.close(r)
    return ok
pre = sys.argv[4] if len(sys.argv) > 4 else ""
if pre == "subprocess":
    import subprocess; subprocess.run(["/bin/true"])
for i in range(n):
    t0 = time.monotonic()
    ok = one_write() if which == "write" else one_read()
    print(f"{which} {sys.argv[2]} {i}: {'ok' if ok else 'WRONG'} {time.monotonic()-t0:.2f}s", flush=True)
