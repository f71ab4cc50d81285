namespace Supervisor.Cli;

/// <summary>
/// runc stops parsing flags at the first positional argument of exec (`exec ID ls -l` runs `ls -l`),
/// while System.CommandLine would read `-l` as an option of exec. Inserting "--" after the container id
/// gives the same meaning: everything after the id is the command.
/// </summary>
internal static class ArgsPreprocessor
{
    private static readonly string[] GlobalValueOptions = ["--root", "--log", "--log-format", "--criu", "--rootless"];

    public static string[] Prepare(string[] args)
    {
        int i = 0;
        // Global options before the command.
        while (i < args.Length && args[i].StartsWith('-'))
        {
            if (Array.IndexOf(GlobalValueOptions, args[i]) >= 0)
                i++;
            i++;
        }
        if (i >= args.Length || args[i] != "exec")
            return args;
        i++;
        while (i < args.Length)
        {
            var a = args[i];
            if (a == "--")
                return args;
            if (!a.StartsWith('-') || a == "-")
                break;
            if (!a.Contains('=') && (Array.IndexOf(Commands.ExecCommand.ValueOptions, a) >= 0 || Array.IndexOf(GlobalValueOptions, a) >= 0))
                i++;
            i++;
        }
        // args[i] is the container id; the command starts after it.
        if (i + 1 >= args.Length)
            return args;
        return [.. args[..(i + 1)], "--", .. args[(i + 1)..]];
    }
}
