using System.Globalization;
using Supervisor.Runtime.Cgroups;

namespace Supervisor.Runtime.Stats;

/// <summary>
/// Interface counters of a container's network namespace. /proc/PID/net/dev shows the counters of the
/// namespace *that process* is in, so reading it for the init gives the container's view without
/// entering the namespace.
/// </summary>
public static class NetDevParser
{
    public static IReadOnlyList<NetworkInterfaceStats> ReadForPid(int pid, bool includeLoopback = false)
    {
        string text;
        try
        {
            text = File.ReadAllText($"/proc/{pid}/net/dev");
        }
        catch (IOException)
        {
            return [];
        }
        return Parse(text, includeLoopback);
    }

    /// <summary>
    /// Parses the table: two header lines, then "name: rx_bytes rx_packets rx_errs rx_drop fifo frame
    /// compressed multicast tx_bytes tx_packets tx_errs tx_drop fifo colls carrier compressed".
    /// </summary>
    public static IReadOnlyList<NetworkInterfaceStats> Parse(string text, bool includeLoopback = false)
    {
        var result = new List<NetworkInterfaceStats>();
        foreach (var line in text.Split('\n').Skip(2))
        {
            int colon = line.IndexOf(':');
            if (colon < 0)
                continue;
            var name = line[..colon].Trim();
            if (name == "lo" && !includeLoopback)
                continue;
            var f = line[(colon + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length < 16)
                throw new FormatException($"/proc/net/dev: malformed line for {name}");
            ulong N(int i) => ulong.Parse(f[i], NumberStyles.None, CultureInfo.InvariantCulture);
            result.Add(new NetworkInterfaceStats(name, N(0), N(1), N(2), N(3), N(8), N(9), N(10), N(11)));
        }
        return result;
    }
}
