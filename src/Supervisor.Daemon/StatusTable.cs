using System.Globalization;
using System.Text;
using Akka.Actor;
using Supervisor.Actors;
using Supervisor.Runtime;

namespace Supervisor.Daemon;

/// <summary>
/// Prints a table of the supervised containers (id, status, pid, restarts, memory, cpu) to the console on
/// an interval, for the demo and for anyone watching the daemon in a terminal. Status, pid and restarts
/// come from the container actors themselves (GetContainerState); memory and cpu from the stats samples
/// on the EventStream, cpu as the share of one core between the last two samples.
/// </summary>
internal sealed class StatusTable : ReceiveActor, IWithTimers
{
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(3);
    private readonly IActorRef _supervisor;
    private readonly TimeSpan _interval;
    private readonly Dictionary<string, (ContainerStats Last, double CpuPercent)> _stats = new(StringComparer.Ordinal);
    private bool _busy;

    public StatusTable(IActorRef supervisor, TimeSpan interval)
    {
        _supervisor = supervisor;
        _interval = interval;
        Receive<ContainerStats>(OnStats);
        Receive<ContainerRemoved>(r =>
        {
            _stats.Remove(r.Id);
        });
        Receive<ContainerExited>(e =>
        {
            _stats.Remove(e.Id);
        });
        Receive<Tick>(_ => Refresh());
        Receive<Rows>(r =>
        {
            _busy = false;
            Console.Out.Write(Render(r.Infos));
        });
        Receive<Status.Failure>(_ => _busy = false);
    }

    public ITimerScheduler Timers { get; set; } = null!;

    private sealed record Tick
    {
        public static readonly Tick Instance = new();
    }

    private sealed record Rows(IReadOnlyList<ContainerInfo> Infos);

    protected override void PreStart()
    {
        Context.System.EventStream.Subscribe(Self, typeof(ContainerStats));
        Context.System.EventStream.Subscribe(Self, typeof(ContainerRemoved));
        Context.System.EventStream.Subscribe(Self, typeof(ContainerExited));
        Timers.StartPeriodicTimer("tick", Tick.Instance, _interval);
    }

    private void OnStats(ContainerStats s)
    {
        double cpu = 0;
        if (_stats.TryGetValue(s.Id, out var prev) && s.Time > prev.Last.Time)
        {
            var used = (double)(s.Cgroups.Cpu.Usage.Total - Math.Min(s.Cgroups.Cpu.Usage.Total, prev.Last.Cgroups.Cpu.Usage.Total));
            cpu = used / ((s.Time - prev.Last.Time).TotalMilliseconds * 1e6) * 100;
        }
        _stats[s.Id] = (s, cpu);
    }

    private void Refresh()
    {
        if (_busy)
            return;
        _busy = true;
        var supervisor = _supervisor;
        Fetch(supervisor).PipeTo(Self);
    }

    private static async Task<Rows> Fetch(IActorRef supervisor)
    {
        var list = await supervisor.Ask<ContainerList>(ListContainers.Instance, AskTimeout);
        var infos = new List<ContainerInfo>();
        foreach (var id in list.Ids)
        {
            var reply = await supervisor.Ask<object>(new GetContainerState(id), AskTimeout);
            if (reply is ContainerInfo info)
                infos.Add(info);
        }
        return new Rows(infos);
    }

    private string Render(IReadOnlyList<ContainerInfo> infos)
    {
        var rows = new List<string[]> { new[] { "ID", "STATUS", "PID", "RESTARTS", "LAST EXIT", "MEMORY", "CPU" } };
        foreach (var i in infos)
        {
            var live = i.Status is ContainerStatus.Running or ContainerStatus.Paused;
            string mem = "-", cpu = "-";
            if (live && _stats.TryGetValue(i.Id, out var s))
            {
                mem = Bytes(s.Last.Cgroups.Memory.Usage.Usage);
                cpu = s.CpuPercent.ToString("0.0", CultureInfo.InvariantCulture) + "%";
            }
            var status = i.Status.ToOci() + (i.RestartPending ? " (restarting)" : "");
            var exit = i.LastExitCode is { } code ? code.ToString(CultureInfo.InvariantCulture) + (i.LastOomKilled ? " oom" : "") : "-";
            rows.Add([i.Id, status, i.Pid > 0 ? i.Pid.ToString(CultureInfo.InvariantCulture) : "-",
                i.RestartCount.ToString(CultureInfo.InvariantCulture), exit, mem, cpu]);
        }
        var widths = Enumerable.Range(0, rows[0].Length).Select(c => rows.Max(r => r[c].Length)).ToArray();
        var sb = new StringBuilder();
        sb.Append("---- containers at ").Append(DateTime.Now.ToString("HH:mm:ss", CultureInfo.InvariantCulture)).Append(" ----\n");
        foreach (var r in rows)
        {
            for (int c = 0; c < r.Length; c++)
                sb.Append(r[c].PadRight(widths[c] + 2));
            sb.Append('\n');
        }
        return sb.ToString();
    }

    private static string Bytes(ulong b) => b switch
    {
        >= 1 << 30 => (b / (double)(1 << 30)).ToString("0.0", CultureInfo.InvariantCulture) + " GiB",
        >= 1 << 20 => (b / (double)(1 << 20)).ToString("0.0", CultureInfo.InvariantCulture) + " MiB",
        >= 1 << 10 => (b / (double)(1 << 10)).ToString("0.0", CultureInfo.InvariantCulture) + " KiB",
        _ => b.ToString(CultureInfo.InvariantCulture) + " B",
    };
}
