using System.CommandLine;
using Supervisor.Runtime;
using Supervisor.Runtime.Configs;
using Supervisor.Runtime.Oci;

namespace Supervisor.Cli.Commands;

/// <summary>`update [flags] ID` or `update -r FILE|- ID`: change a running container's resource limits.</summary>
internal static class UpdateCommand
{
    public static Command Create()
    {
        var resources = new Option<string?>("--resources", "-r") { Description = "path to a file containing the resources to update or '-' to read from the standard input" };
        var memory = new Option<string?>("--memory") { Description = "memory limit (in bytes, or with k/m/g suffix)" };
        var reservation = new Option<string?>("--memory-reservation") { Description = "memory reservation or soft_limit (in bytes)" };
        var swap = new Option<string?>("--memory-swap") { Description = "total memory usage (memory + swap); set '-1' to enable unlimited swap" };
        var shares = new Option<ulong?>("--cpu-share", "--cpu-shares") { Description = "CPU shares (relative weight vs. other containers)" };
        var quota = new Option<long?>("--cpu-quota") { Description = "CPU CFS hardcap limit (in usecs). Allowed cpu time in a given period" };
        var period = new Option<ulong?>("--cpu-period") { Description = "CPU CFS period to be used for hardcapping (in usecs)" };
        var cpus = new Option<string?>("--cpuset-cpus") { Description = "CPU(s) to use" };
        var mems = new Option<string?>("--cpuset-mems") { Description = "memory node(s) to use" };
        var pids = new Option<long?>("--pids-limit") { Description = "maximum number of pids allowed in the container" };
        var blkio = new Option<ushort?>("--blkio-weight") { Description = "specifies per cgroup weight, range is from 10 to 1000" };
        var cmd = new Command("update", "update container resource constraints")
        {
            CommandSet.IdArgument, resources, memory, reservation, swap, shares, quota, period, cpus, mems, pids, blkio,
        };
        cmd.SetAction(parse => CommandSet.Guard(parse, () =>
        {
            var container = CommandSet.Factory(parse).Load(parse.GetValue(CommandSet.IdArgument)!);
            Resources update;
            if (parse.GetValue(resources) is { } source)
            {
                var json = source == "-" ? Console.In.ReadToEnd() : File.ReadAllText(source);
                update = SpecConverter.ConvertResourcesUpdate(SpecLoader.ParseResources(json, source == "-" ? "stdin" : source));
            }
            else
            {
                var mem = new MemoryResources
                {
                    Limit = Bytes(parse.GetValue(memory), "--memory"),
                    Reservation = Bytes(parse.GetValue(reservation), "--memory-reservation"),
                    Swap = Bytes(parse.GetValue(swap), "--memory-swap"),
                };
                var cpu = new CpuResources
                {
                    Shares = parse.GetValue(shares),
                    Quota = parse.GetValue(quota),
                    Period = parse.GetValue(period),
                    Cpus = parse.GetValue(cpus),
                    Mems = parse.GetValue(mems),
                };
                update = new Resources
                {
                    Memory = mem is { Limit: null, Reservation: null, Swap: null } ? null : mem,
                    Cpu = cpu is { Shares: null, Quota: null, Period: null, Cpus: null, Mems: null } ? null : cpu,
                    Pids = parse.GetValue(pids) is { } p ? new PidsResources { Limit = p } : null,
                    BlockIo = parse.GetValue(blkio) is { } w ? new BlockIoResources { Weight = w } : null,
                };
            }
            container.Set(update);
            return 0;
        }));
        return cmd;
    }

    /// <summary>Sizes as runc's update takes them: bytes, or with a k/m/g (binary) suffix; -1 = unlimited.</summary>
    internal static long? Bytes(string? text, string flag)
    {
        if (text is null)
            return null;
        var t = text.Trim().ToLowerInvariant();
        if (t == "-1")
            return -1;
        long mult = 1;
        if (t.EndsWith('b'))
            t = t[..^1];
        if (t.EndsWith('k')) { mult = 1L << 10; t = t[..^1]; }
        else if (t.EndsWith('m')) { mult = 1L << 20; t = t[..^1]; }
        else if (t.EndsWith('g')) { mult = 1L << 30; t = t[..^1]; }
        if (!long.TryParse(t, out var n) || n < 0)
            throw new RuntimeException($"invalid value for {flag}: \"{text}\"");
        return checked(n * mult);
    }
}
