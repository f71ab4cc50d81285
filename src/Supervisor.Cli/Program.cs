using Supervisor.Cli;

return CliApp.Run(args);
