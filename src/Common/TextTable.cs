using System.Text;

namespace Supervisor.Common;

/// <summary>
/// Source shared by the two executables that print container lists (`supervisor` and `supervisor-remote`),
/// linked into each, so that both print the same columns as runc's list does.
/// </summary>
internal static class TextTable
{
    /// <summary>Columns padded like Go's tabwriter with padding 3, as runc's list prints them.</summary>
    public static string Format(string[] header, IEnumerable<string[]> rows)
    {
        var all = new List<string[]> { header };
        all.AddRange(rows);
        var widths = new int[header.Length];
        foreach (var r in all)
        {
            for (int i = 0; i < r.Length; i++)
                widths[i] = Math.Max(widths[i], r[i].Length);
        }
        var sb = new StringBuilder();
        foreach (var r in all)
        {
            for (int i = 0; i < r.Length; i++)
                sb.Append(i == r.Length - 1 ? r[i] : r[i].PadRight(widths[i] + 3));
            sb.Append('\n');
        }
        return sb.ToString();
    }
}
