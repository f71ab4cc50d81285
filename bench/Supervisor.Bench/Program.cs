using System.Diagnostics;
using System.Globalization;
using System.Threading.Channels;
using Akka.Actor;
using Akka.Configuration;
using Supervisor.Actors;
using Supervisor.Actors.Runtime;
using Supervisor.Runtime;

namespace Supervisor.Bench;

/// <summary>
/// The daemon's benchmarks, in one process that hosts the same ContainerSupervisor the daemon runs (over
/// the real LinuxContainerRuntime), so the figures are those of a warm daemon without the noise of a
/// remote client:
///   startstop BUNDLE N       Create, Start, the exit of /bin/true, Delete: N times, wall time of each
///   restart BUNDLE N         kill -9 of a running init until the restarted init runs, minus the backoff
///   idle BUNDLE COUNT        PSS of this process plus the shims, per supervised idle container
///   stats BUNDLE COUNT SECS  CPU of this process with 1 Hz stats polling of COUNT containers vs without
/// Each prints "key value" lines that bench/daemon-bench.sh turns into the README table.
/// </summary>
public static class Program
{
    private static readonly TimeSpan Ask = TimeSpan.FromSeconds(60);

    public static async Task<int> Main(string[] args)
    {
        if (args.Length < 2)
        {
            Console.Error.WriteLine("usage: supervisor-bench startstop|restart|idle|stats BUNDLE [N] [SECONDS]");
            return 2;
        }
        var bundle = Path.GetFullPath(args[1]);
        var n = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 20;
        var root = Environment.GetEnvironmentVariable("BENCH_ROOT") ?? "/run/supervisor-bench";
        // statsoff: the same containers without polling (1 h), to tell the polling's CPU from the rest.
        var stats = args[0] == "stats" ? "1s" : "1h";
        await using var h = new Harness(root, stats);
        switch (args[0])
        {
            case "startstop":
                await StartStop(h, bundle, n);
                break;
            case "restart":
                await Restart(h, bundle, n);
                break;
            case "idle":
                await Idle(h, bundle, n);
                break;
            case "stats":
            case "statsoff":
                await StatsCpu(h, bundle, n, args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 30);
                break;
            default:
                Console.Error.WriteLine($"unknown benchmark {args[0]}");
                return 2;
        }
        return 0;
    }

    private static async Task StartStop(Harness h, string bundle, int n)
    {
        // Warm-up: JIT, the first cgroup, the page cache.
        for (int i = 0; i < 3; i++)
            await h.StartStopOnce($"warm{i}", bundle);
        // runc run of the same bundle (create, start, wait, delete), alternating with ours so that both
        // see the same machine state.
        var runc = Environment.GetEnvironmentVariable("RUNC");
        var runcRoot = Path.Combine(Path.GetTempPath(), "sv-bench-runc");
        var times = new List<double>();
        var runcTimes = new List<double>();
        if (runc is { Length: > 0 })
            RuncRun(runc, runcRoot, bundle, "warm");
        for (int i = 0; i < n; i++)
        {
            times.Add(await h.StartStopOnce($"ss{i}", bundle));
            if (runc is { Length: > 0 })
                runcTimes.Add(RuncRun(runc, runcRoot, bundle, $"r{i}"));
        }
        Report("startstop_ms", times);
        if (runcTimes.Count > 0)
            Report("runc_run_ms", runcTimes);
    }

    private static double RuncRun(string runc, string root, string bundle, string id)
    {
        var psi = new ProcessStartInfo(runc) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "--root", root, "run", "-b", bundle, id })
            psi.ArgumentList.Add(a);
        var sw = Stopwatch.StartNew();
        using var p = Process.Start(psi)!;
        p.WaitForExit();
        var ms = sw.Elapsed.TotalMilliseconds;
        if (p.ExitCode != 0)
            throw new InvalidOperationException($"runc run failed ({p.ExitCode}): {p.StandardError.ReadToEnd()}");
        return ms;
    }

    private static async Task Restart(Harness h, string bundle, int n)
    {
        const string id = "restarter";
        await h.Send<CommandSucceeded>(new CreateContainer(id, bundle, Supervisor.Actors.Restart.RestartPolicy.Never with
        {
            Mode = Supervisor.Actors.Restart.RestartMode.Always,
            // A multiplier of 1 keeps every backoff at the initial delay, which is subtracted below.
            Backoff = new Supervisor.Actors.Restart.BackoffSettings(TimeSpan.FromMilliseconds(1), 1.0, TimeSpan.FromMilliseconds(1), TimeSpan.FromSeconds(10), 0),
        }));
        await h.Send<CommandSucceeded>(new StartContainer(id));
        var pid = (await h.Next<ContainerStarted>(id)).Pid;
        var times = new List<double>();
        for (int i = 0; i < n + 2; i++)
        {
            await Task.Delay(100);
            h.Drain();
            var sw = Stopwatch.StartNew();
            Syscall.Kill(pid);
            var restarting = await h.Next<ContainerRestarting>(id);
            var started = await h.Next<ContainerStarted>(id);
            var ms = sw.Elapsed.TotalMilliseconds - restarting.Delay.TotalMilliseconds;
            if (i >= 2)
                times.Add(ms);
            pid = started.Pid;
        }
        Report("restart_ms", times);
        await h.Send<CommandSucceeded>(new DeleteContainer(id, Force: true));
    }

    private static async Task Idle(Harness h, string bundle, int count)
    {
        // The process after a container has come and gone (everything loaded and JIT-compiled), then with
        // COUNT idle containers: the difference is what supervising them costs this process.
        await h.DeleteMany(await h.RunMany("warm", bundle, 1));
        await Settle();
        var before = Pss.Of(Environment.ProcessId);
        var heapBefore = GC.GetGCMemoryInfo();
        if (Environment.GetEnvironmentVariable("BENCH_SMAPS") is { Length: > 0 } dump)
            File.Copy("/proc/self/smaps", dump + ".before", overwrite: true);
        var ids = await h.RunMany("idle", bundle, count);
        await Settle();
        var after = Pss.Of(Environment.ProcessId);
        var heapAfter = GC.GetGCMemoryInfo();
        if (Environment.GetEnvironmentVariable("BENCH_SMAPS") is { Length: > 0 } dump2)
            File.Copy("/proc/self/smaps", dump2 + ".after", overwrite: true);
        var shims = h.Runtime.ListIds().Select(id => h.Runtime.Inspect(id)!.ShimPid).Where(p => p > 0).ToList();
        long shimPss = 0, shimMemfd = 0;
        foreach (var pid in shims)
        {
            shimPss += Pss.Of(pid);
            shimMemfd += Pss.UnmappedExeBytes(pid);
        }
        Console.WriteLine($"containers {count}");
        Console.WriteLine($"shims {shims.Count}");
        Console.WriteLine($"daemon_pss_before_kib {before / 1024}");
        Console.WriteLine($"daemon_pss_after_kib {after / 1024}");
        Console.WriteLine($"daemon_per_container_kib {(after - before) / 1024.0 / count:0.0}");
        Console.WriteLine($"managed_heap_per_container_kib {(heapAfter.HeapSizeBytes - heapBefore.HeapSizeBytes) / 1024.0 / count:0.0}");
        Console.WriteLine($"gc_committed_per_container_kib {(heapAfter.TotalCommittedBytes - heapBefore.TotalCommittedBytes) / 1024.0 / count:0.0}");
        Console.WriteLine($"shim_pss_per_container_kib {shimPss / 1024.0 / Math.Max(1, shims.Count):0.0}");
        Console.WriteLine($"shim_memfd_unmapped_per_container_kib {shimMemfd / 1024.0 / Math.Max(1, shims.Count):0.0}");
        Console.WriteLine($"total_per_container_kib {((after - before) + shimPss) / 1024.0 / count:0.0}");
        Console.WriteLine($"threads {Directory.GetDirectories("/proc/self/task").Length}");
        if (Environment.GetEnvironmentVariable("BENCH_HOLD") is { Length: > 0 } hold)
            await Task.Delay(TimeSpan.FromSeconds(int.Parse(hold, CultureInfo.InvariantCulture)));
        await h.DeleteMany(ids);
    }

    private static async Task StatsCpu(Harness h, string bundle, int count, int seconds)
    {
        var ids = await h.RunMany("stats", bundle, count);
        await Settle();
        // The pollers start with their containers; one interval in, every poller is sampling.
        h.Drain();
        var (cpu0, wall0) = (Cpu.Self(), Stopwatch.GetTimestamp());
        await Task.Delay(TimeSpan.FromSeconds(seconds));
        var (cpu1, wall1) = (Cpu.Self(), Stopwatch.GetTimestamp());
        var samples = h.Drain().OfType<ContainerStats>().Count();
        var wall = Stopwatch.GetElapsedTime(wall0, wall1).TotalSeconds;
        Console.WriteLine($"containers {count}");
        Console.WriteLine($"seconds {wall:0.0}");
        Console.WriteLine($"samples {samples}");
        Console.WriteLine($"cpu_seconds {cpu1 - cpu0:0.000}");
        Console.WriteLine($"cpu_percent_of_one_core {(cpu1 - cpu0) / wall * 100:0.00}");
        Console.WriteLine($"cpu_us_per_sample {(cpu1 - cpu0) * 1e6 / Math.Max(1, samples):0}");
        await h.DeleteMany(ids);
    }

    private static async Task Settle()
    {
        for (int i = 0; i < 3; i++)
        {
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
            await Task.Delay(500);
        }
    }

    private static void Report(string key, List<double> ms)
    {
        ms.Sort();
        var median = ms.Count % 2 == 1 ? ms[ms.Count / 2] : (ms[ms.Count / 2 - 1] + ms[ms.Count / 2]) / 2;
        Console.WriteLine($"{key}_median {median:0.00}");
        Console.WriteLine($"{key}_min {ms[0]:0.00}");
        Console.WriteLine($"{key}_max {ms[^1]:0.00}");
        Console.WriteLine($"{key}_n {ms.Count}");
    }

    /// <summary>An ActorSystem with the node's ContainerSupervisor, and every container event in a channel.</summary>
    private sealed class Harness : IAsyncDisposable
    {
        private readonly ActorSystem _system;
        private readonly IActorRef _supervisor;
        private readonly Channel<IContainerEvent> _events = Channel.CreateUnbounded<IContainerEvent>();

        public Harness(string root, string statsInterval)
        {
            Directory.CreateDirectory(root);
            var shim = Environment.GetEnvironmentVariable("SUPERVISOR_SHIM")
                ?? Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "artifacts", "bin", "supervisor-shim");
            Runtime = new LinuxContainerRuntime(new RuntimeOptions { StateRoot = root, ShimPath = Path.GetFullPath(shim) });
            var settings = SupervisorSettings.Create(ConfigurationFactory.ParseString($$"""
                supervisor {
                  state-root = "{{root}}"
                  stats.interval = {{statsInterval}}
                  stop-timeout = 2s
                }
                """));
            _system = ActorSystem.Create("bench", "akka.loglevel = WARNING");
            var sink = _events.Writer;
            var recorder = _system.ActorOf(Props.Create(() => new Recorder(sink)));
            _system.EventStream.Subscribe(recorder, typeof(IContainerEvent));
            _supervisor = _system.ActorOf(ContainerSupervisor.Props(settings, Runtime), "containers");
        }

        public LinuxContainerRuntime Runtime { get; }

        private sealed class Recorder : ReceiveActor
        {
            public Recorder(ChannelWriter<IContainerEvent> sink) => Receive<IContainerEvent>(e => sink.TryWrite(e));
        }

        public async Task<T> Send<T>(object message) where T : class
        {
            var reply = await _supervisor.Ask<object>(message, Ask);
            return reply as T ?? throw new InvalidOperationException($"{message}: {reply}");
        }

        public async Task<T> Next<T>(string id) where T : class, IContainerEvent
        {
            using var cts = new CancellationTokenSource(Ask);
            while (true)
            {
                var e = await _events.Reader.ReadAsync(cts.Token);
                if (e is T t && e.Id == id)
                    return t;
            }
        }

        public List<IContainerEvent> Drain()
        {
            var all = new List<IContainerEvent>();
            while (_events.Reader.TryRead(out var e))
                all.Add(e);
            return all;
        }

        /// <summary>Create, Start, the init's exit, Delete; returns the wall time in ms.</summary>
        public async Task<double> StartStopOnce(string id, string bundle)
        {
            Drain();
            var sw = Stopwatch.StartNew();
            await Send<CommandSucceeded>(new CreateContainer(id, bundle));
            await Send<CommandSucceeded>(new StartContainer(id));
            await Next<ContainerExited>(id);
            await Send<CommandSucceeded>(new DeleteContainer(id));
            return sw.Elapsed.TotalMilliseconds;
        }

        public async Task<List<string>> RunMany(string prefix, string bundle, int count)
        {
            var ids = new List<string>();
            for (int i = 0; i < count; i++)
            {
                var id = $"{prefix}{i}";
                await Send<CommandSucceeded>(new CreateContainer(id, bundle));
                await Send<CommandSucceeded>(new StartContainer(id));
                ids.Add(id);
            }
            return ids;
        }

        public async Task DeleteMany(List<string> ids)
        {
            foreach (var id in ids)
                await Send<CommandSucceeded>(new DeleteContainer(id, Force: true));
        }

        public async ValueTask DisposeAsync()
        {
            await _system.Terminate();
        }
    }

    private static class Syscall
    {
        public static void Kill(int pid) => Supervisor.Linux.Syscalls.Kill(pid, Supervisor.Linux.Syscalls.SIGKILL);
    }

    private static class Pss
    {
        /// <summary>Proportional set size in bytes (shared pages divided among their users), from smaps_rollup.</summary>
        public static long Of(int pid)
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/smaps_rollup"))
            {
                if (line.StartsWith("Pss:", StringComparison.Ordinal))
                    return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
            }
            return 0;
        }

        /// <summary>
        /// The part of the shim's own executable (a private memfd copy) that is in memory but not mapped:
        /// shmem that PSS does not show. The memfd is as large as the binary and fully written, so its
        /// size minus the mapped (Rss) part of the exe mappings is RAM the process holds beyond its PSS.
        /// </summary>
        public static long UnmappedExeBytes(int pid)
        {
            var exe = new FileInfo($"/proc/{pid}/exe");
            if (exe.LinkTarget is not { } target || !target.StartsWith("/memfd:", StringComparison.Ordinal))
                return 0;
            long size;
            using (var f = File.OpenRead($"/proc/{pid}/exe"))
                size = f.Length;
            long mapped = 0;
            bool inExe = false;
            foreach (var line in File.ReadLines($"/proc/{pid}/smaps"))
            {
                if (char.IsAsciiHexDigit(line[0]) && line.Contains('-'))
                    inExe = line.Contains("/memfd:", StringComparison.Ordinal);
                else if (inExe && line.StartsWith("Rss:", StringComparison.Ordinal))
                    mapped += long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
            }
            return Math.Max(0, size - mapped);
        }
    }

    private static class Cpu
    {
        /// <summary>User plus system CPU seconds of this process (/proc/self/stat utime + stime).</summary>
        public static double Self()
        {
            var stat = File.ReadAllText("/proc/self/stat");
            var f = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var ticks = long.Parse(f[11], CultureInfo.InvariantCulture) + long.Parse(f[12], CultureInfo.InvariantCulture);
            return ticks / 100.0;
        }
    }
}
