namespace Supervisor.Runtime.Validation;

/// <summary>
/// A container configuration that cannot be used: malformed config.json, a field that cannot be converted,
/// or a validation failure. The message is one line that names the field; <see cref="Problems"/> holds every
/// problem found when validation collected more than one. A supervisor treats this as permanent (no retry).
/// </summary>
public class ConfigException : Exception
{
    public ConfigException(string message) : base(OneLine(message)) => Problems = [Message];

    public ConfigException(string message, IReadOnlyList<string> problems) : base(OneLine(message)) =>
        Problems = problems.Select(OneLine).ToArray();

    public ConfigException(string message, Exception inner) : base(OneLine(message), inner) => Problems = [Message];

    public IReadOnlyList<string> Problems { get; }

    /// <summary>Longest message kept; a hostile config can otherwise make an error line arbitrarily long.</summary>
    public const int MaxMessageLength = 1000;

    /// <summary>
    /// Makes text that may quote config values safe to print as one log line: control characters are
    /// escaped (\n, \0, \x1b...) and overlong text is cut.
    /// </summary>
    public static string OneLine(string text)
    {
        var needsWork = text.Length > MaxMessageLength;
        foreach (var ch in text)
            if (char.IsControl(ch)) { needsWork = true; break; }
        if (!needsWork) return text;
        var sb = new System.Text.StringBuilder(Math.Min(text.Length, MaxMessageLength + 16));
        foreach (var ch in text)
        {
            if (sb.Length >= MaxMessageLength) { sb.Append("..."); break; }
            switch (ch)
            {
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\0': sb.Append("\\0"); break;
                default:
                    if (char.IsControl(ch)) sb.Append("\\x").Append(((int)ch).ToString("x2", System.Globalization.CultureInfo.InvariantCulture));
                    else sb.Append(ch);
                    break;
            }
        }
        return sb.ToString();
    }
}

/// <summary>A container id that is unsafe as a file name or does not follow the id rules.</summary>
public sealed class InvalidIdException(string message) : Exception(message);
