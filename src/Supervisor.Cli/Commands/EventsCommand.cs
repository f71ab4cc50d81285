using System.CommandLine;
using Supervisor.Runtime;
using Supervisor.Runtime.Cgroups;

namespace Supervisor.Cli.Commands;

/// <summary>
/// `events [--interval 5s] [--stats] ID`: runc's event stream, one JSON object per line: a stats object
/// every interval, an {"type":"oom"} object whenever the kernel OOM-kills in the container; it ends when
/// the container goes away. With --stats it prints one stats object and exits.
/// </summary>
internal static class EventsCommand
{
    public static Command Create()
    {
        var interval = new Option<string>("--interval") { Description = "set the stats collection interval", DefaultValueFactory = _ => "5s" };
        var stats = new Option<bool>("--stats") { Description = "display the container's stats then exit" };
        var cmd = new Command("events", "display container events such as OOM notifications, cpu, memory, and IO usage statistics")
        {
            CommandSet.IdArgument, interval, stats,
        };
        cmd.SetAction(parse => CommandSet.Guard(parse, () =>
        {
            var container = CommandSet.Factory(parse).Load(parse.GetValue(CommandSet.IdArgument)!);
            if (parse.GetValue(stats))
            {
                Console.Out.WriteLine(StatsLine(container));
                return 0;
            }
            var period = ParseDuration(parse.GetValue(interval)!);
            using var oom = container.NotifyOom();
            var output = new object();
            var oomTask = Task.Run(async () =>
            {
                await foreach (var _ in oom.ReadAllAsync())
                {
                    lock (output)
                        Console.Out.WriteLine(CgroupStatsJson.ToOomEventJson(container.Id));
                }
            });
            while (container.Status != ContainerStatus.Stopped)
            {
                string line;
                try
                {
                    line = StatsLine(container);
                }
                catch (CgroupException)
                {
                    break; // the cgroup went away between the status check and the read
                }
                lock (output)
                    Console.Out.WriteLine(line);
                if (oomTask.Wait(period))
                    break;
            }
            return 0;
        }));
        return cmd;
    }

    private static string StatsLine(Container container)
    {
        var (cgroups, net) = container.Stats();
        return CgroupStatsJson.ToEventJson(container.Id, cgroups, net);
    }

    /// <summary>Go-style durations as runc takes them: "5s", "500ms", "1m", "1m30s", "2h".</summary>
    internal static TimeSpan ParseDuration(string text)
    {
        var total = TimeSpan.Zero;
        int i = 0;
        if (text.Length == 0)
            throw new RuntimeException("invalid duration \"\"");
        while (i < text.Length)
        {
            int start = i;
            while (i < text.Length && (char.IsDigit(text[i]) || text[i] == '.'))
                i++;
            if (start == i || !double.TryParse(text[start..i], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var value))
                throw new RuntimeException($"invalid duration \"{text}\"");
            int unitStart = i;
            while (i < text.Length && char.IsLetter(text[i]))
                i++;
            total += text[unitStart..i] switch
            {
                "ns" => TimeSpan.FromTicks((long)(value / 100)),
                "us" or "µs" => TimeSpan.FromMicroseconds(value),
                "ms" => TimeSpan.FromMilliseconds(value),
                "s" => TimeSpan.FromSeconds(value),
                "m" => TimeSpan.FromMinutes(value),
                "h" => TimeSpan.FromHours(value),
                _ => throw new RuntimeException($"invalid duration \"{text}\""),
            };
        }
        if (total <= TimeSpan.Zero)
            throw new RuntimeException($"duration must be greater than 0: \"{text}\"");
        return total;
    }
}
