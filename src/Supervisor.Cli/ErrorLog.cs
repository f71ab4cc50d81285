using System.CommandLine;
using System.Text;
using System.Text.Encodings.Web;
using Supervisor.Linux;
using Supervisor.Linux.Shim;
using Supervisor.Runtime;
using Supervisor.Runtime.Cgroups;
using Supervisor.Runtime.Seccomp;
using Supervisor.Runtime.Validation;

namespace Supervisor.Cli;

/// <summary>
/// Errors reach the user as one line, in runc's (logrus) formats, so that tools parsing runc's log keep
/// working: text `time="..." level=error msg="..."`, or JSON `{"level":"error","msg":"...","time":"..."}`.
/// Never a stack trace.
/// </summary>
internal static class ErrorLog
{
    public static void Write(ParseResult? parse, Exception e) => Write(parse, Message(e));

    public static void Write(ParseResult? parse, string message)
    {
        var path = parse?.GetValue(CliApp.LogOption);
        var format = parse?.GetValue(CliApp.LogFormatOption) ?? "text";
        var time = DateTimeOffset.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'");
        string line = format == "json"
            ? $"{{\"level\":\"error\",\"msg\":\"{JavaScriptEncoder.UnsafeRelaxedJsonEscaping.Encode(message)}\",\"time\":\"{time}\"}}"
            : $"time=\"{time}\" level=error msg=\"{message.Replace("\\", "\\\\").Replace("\"", "\\\"")}\"";
        if (!string.IsNullOrEmpty(path))
        {
            // As runc: the formatted record goes to the log file (containerd parses it there) and the
            // user still gets the plain message on stderr; either way stderr carries exactly one line.
            try
            {
                File.AppendAllText(path, line + "\n", Encoding.UTF8);
                Console.Error.WriteLine(message);
                return;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
            }
        }
        Console.Error.WriteLine(line);
    }

    /// <summary>
    /// The runtime's own exceptions carry messages written for users; anything else is a bug or an
    /// unexpected environment, so its type is kept in the line to make reports useful.
    /// </summary>
    public static string Message(Exception e) => e switch
    {
        RuntimeException or ShimException or SyscallException or ConfigException or InvalidIdException
            or CgroupException or SeccompConfigException or FormatException or IOException
            or UnauthorizedAccessException => OneLine(e.Message),
        _ => OneLine($"{e.GetType().Name}: {e.Message}"),
    };

    private static string OneLine(string s) => s.ReplaceLineEndings(" ");
}
