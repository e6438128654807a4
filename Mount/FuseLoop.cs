using System.Diagnostics;
using System.Runtime.InteropServices;
using ExoFS.Mount.Native;

namespace ExoFS.Mount;

/// <summary>
/// The request loop: one thread serves requests while they arrive one at a time, and helper threads (up to
/// <c>maxThreads - 1</c>) join only while requests queue up, or while one waits for the disk.
/// <para>
/// Why not libfuse's multithreaded loop: it keeps several threads blocked in read(2) on /dev/fuse, and the
/// kernel wakes them in turn, so a single-threaded client (tar, rm, an editor) has each request served by a
/// different thread. The scheduler then sees the client waking a different task every time, stops placing
/// the server next to it, and every request pays a cross-CPU wakeup both ways: on a 2-core VM that doubled
/// the time of a file-per-request workload (postmark 18.5 s against 11.1 s single-threaded). Here only the
/// primary thread waits for requests; the device is non-blocking, and after taking a request the primary
/// polls it once: if more are queued and stay queued (several busy clients), or the request in hand waits
/// for the disk (fsync), it wakes an idle helper or starts a new one; helpers read until the queue is
/// empty, then sleep again.
/// </para>
/// <para>
/// A queue is worth helpers only if the libFS serves calls in parallel (<c>helpOnBacklog</c>). FFS serializes
/// every call behind one lock, so helpers for it only took turns at the lock, each turn a futex hand-off
/// between threads: four untars in parallel into one mount took 5.2-5.6 s with backlog helpers and 3.9-4.9 s
/// without, and a 256 MiB write used 0.76-0.89 s of daemon CPU against 0.66-0.68 s (2-core VM, three runs
/// each). The helper for a request that waits for the disk stays: it keeps requests that need no lock, and
/// the device, moving.
/// </para>
/// <para>
/// After serving a request the primary keeps looking for the next one for a short while (the spin, yielding
/// the CPU between looks) before it sleeps in poll(2): a synchronous client's next request usually follows
/// within microseconds, and on a VM that halts idle vCPUs, sleeping cost a wakeup per request that took
/// longer than serving it.
/// </para>
/// </summary>
internal sealed unsafe class FuseLoop
{
    private readonly nint _se;
    private readonly int _fd;
    private readonly int _maxHelpers;
    /// <summary>Whether requests queued behind the one being served bring in helpers (see the class summary).</summary>
    private readonly bool _helpOnBacklog;
    private readonly Action<string> _log;
    private readonly SemaphoreSlim _wake = new(0);
    private readonly List<Thread> _threads = new();
    private int _helpers, _idle;
    private volatile bool _stopping;
    /// <summary>The primary is serving a request that waits for the disk; a helper watches the device meanwhile.</summary>
    private volatile bool _primaryBlocked;
    /// <summary>How long the primary keeps looking for the next request after serving one, before it sleeps.</summary>
    private readonly long _spinTicks;

    public FuseLoop(nint session, int maxThreads, TimeSpan spin, bool helpOnBacklog, Action<string> log)
    {
        _se = session;
        _fd = LibFuse.fuse_session_fd(session);
        _maxHelpers = Math.Max(0, maxThreads - 1);
        _helpOnBacklog = helpOnBacklog;
        _spinTicks = (long)(spin.TotalSeconds * Stopwatch.Frequency);
        _log = log;
    }

    /// <summary>Serves requests until the session ends (unmount or abort). 0, or -1 on a device error.</summary>
    public int Run()
    {
        int flags = Libc.fcntl(_fd, Libc.F_GETFL, 0);
        if (flags < 0 || Libc.fcntl(_fd, Libc.F_SETFL, flags | Libc.O_NONBLOCK) < 0)
        {
            _log($"exofs: cannot make the FUSE device non-blocking: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
            return -1;
        }
        FuseBuf buf = default;
        int rc = 0;
        try
        {
            long spinUntil = 0;
            while (LibFuse.fuse_session_exited(_se) == 0)
            {
                int n = LibFuse.fuse_session_receive_buf(_se, &buf);
                if (n == -Libc.EAGAIN)
                {
                    // Nothing queued. Right after a reply a synchronous client usually sends its next request
                    // within microseconds: look again for a short while before sleeping, so that request
                    // does not pay a wakeup (on a VM, waking an idle vCPU costs more than the request).
                    if (Stopwatch.GetTimestamp() < spinUntil)
                    {
                        Thread.Yield();   // the client may be waiting for this CPU
                        continue;
                    }
                    Poll(timeoutMs: 1000);
                    continue;
                }
                if (n == -Libc.EINTR) continue;                        // an interrupted request
                if (n <= 0) { rc = n; break; }                         // 0: unmounted (ENODEV); else a device error
                bool blocks = false;
                if (_maxHelpers > 0)
                {
                    // Requests queued behind this one are served by helpers only when the queue persists
                    // (several busy clients): a request queued behind a quick one is usually the kernel's
                    // asynchronous RELEASE/WRITE/FORGET from the same client. One that waits for the disk
                    // gets a helper watching the device for as long as it runs.
                    bool queued = _helpOnBacklog && Poll(timeoutMs: 0);
                    _backlogStreak = queued ? _backlogStreak + 1 : 0;
                    blocks = MayBlock(&buf);
                    if (blocks) _primaryBlocked = true;
                    if (blocks || (queued && _backlogStreak >= BacklogStreak)) WakeHelper();
                }
                try { LibFuse.fuse_session_process_buf(_se, &buf); }
                finally { if (blocks) _primaryBlocked = false; }
                spinUntil = Stopwatch.GetTimestamp() + _spinTicks;
            }
        }
        finally
        {
            StopHelpers();
            if (buf.Mem is not null) Libc.free(buf.Mem);
        }
        return rc < 0 ? -1 : 0;
    }

    /// <summary>Consecutive requests found with others queued behind them before helpers join.</summary>
    private const int BacklogStreak = 4;
    private int _backlogStreak;

    private const uint OpFsync = 20, OpFsyncDir = 30;

    /// <summary>Requests that wait for the disk (a flush of the image): others should not queue behind them.</summary>
    private static bool MayBlock(FuseBuf* buf)
    {
        if (buf->Flags != 0 || buf->Size < 8) return false;
        uint opcode = ((uint*)buf->Mem)[1];   // struct fuse_in_header { u32 len; u32 opcode; ... }
        return opcode is OpFsync or OpFsyncDir;
    }

    /// <summary>
    /// Whether a request is queued, waiting up to <paramref name="timeoutMs"/> for one (0: just look). A
    /// connection that has gone also wakes the wait: reading then says so.
    /// </summary>
    private bool Poll(int timeoutMs)
    {
        PollFd p = new() { Fd = _fd, Events = Libc.POLLIN };
        return Libc.poll(&p, 1, timeoutMs) > 0 && (p.Revents & Libc.POLLIN) != 0;
    }

    /// <summary>Requests are queued behind the one being served: an idle helper takes them, or a new one if none is idle.</summary>
    private void WakeHelper()
    {
        if (Volatile.Read(ref _idle) > 0)
        {
            _wake.Release();
            return;
        }
        if (Interlocked.Increment(ref _helpers) > _maxHelpers)
        {
            Interlocked.Decrement(ref _helpers);
            return;   // all helpers are busy: the primary takes the rest when it is done
        }
        var t = new Thread(HelperMain) { IsBackground = true, Name = "exofs-fuse-helper" };
        lock (_threads) _threads.Add(t);
        t.Start();
    }

    private void HelperMain()
    {
        FuseBuf buf = default;
        try
        {
            while (!_stopping)
            {
                int n = LibFuse.fuse_session_receive_buf(_se, &buf);
                if (n > 0)
                {
                    if (_helpOnBacklog && Poll(timeoutMs: 0)) WakeHelper();
                    LibFuse.fuse_session_process_buf(_se, &buf);
                    continue;
                }
                if (n == -Libc.EINTR) continue;
                if (n == -Libc.EAGAIN && _primaryBlocked)
                {
                    // Stand in for the primary while it waits for the disk.
                    Poll(timeoutMs: 50);
                    continue;
                }
                // The queue is empty (EAGAIN) or the session has ended (the primary sees it too): sleep.
                Interlocked.Increment(ref _idle);
                try { _wake.Wait(); }
                finally { Interlocked.Decrement(ref _idle); }
            }
        }
        catch (Exception e)
        {
            // Callbacks catch their own exceptions; this is the loop itself failing.
            _log($"exofs: a FUSE helper thread failed: {e}");
        }
        finally
        {
            if (buf.Mem is not null) Libc.free(buf.Mem);
        }
    }

    private void StopHelpers()
    {
        _stopping = true;
        List<Thread> threads;
        lock (_threads) threads = [.. _threads];
        if (threads.Count > 0) _wake.Release(threads.Count);
        foreach (var t in threads) t.Join();
    }
}
