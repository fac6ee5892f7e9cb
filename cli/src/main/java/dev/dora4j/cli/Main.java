package dev.dora4j.cli;

import dev.dora4j.DoraException;
import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** The {@code dora4j} command line. */
@Command(
        name = "dora4j",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        description = "DoRA and LoRA fine-tuning on the JVM, with adapters in PEFT's format.",
        subcommands = {TrainCommand.class, EvalCommand.class, BenchCommand.class, GenerateCommand.class, MergeCommand.class,
                CombineCommand.class, ConvertCommand.class, EmbedCommand.class, ServeCommand.class, InspectCommand.class,
                AnalyzeCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    @Option(names = "--debug", scope = CommandLine.ScopeType.INHERIT, description = "Print stack traces of errors.")
    static boolean debug;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    public static void main(String[] args) {
        System.exit(execute(args));
    }

    /** Runs the command line and returns its exit code: 0 on success, 1 on an error, 2 on a usage error. */
    public static int execute(String... args) {
        debug = false;
        CommandLine cli = new CommandLine(new Main());
        cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            PrintWriter err = commandLine.getErr();
            if (debug) e.printStackTrace(err);
            err.println("error: " + (causedByOutOfMemory(e) ? MemoryCheck.outOfMemory() : oneLine(e)));
            err.flush();
            return 1;
        });
        try {
            return cli.execute(args);
        } catch (OutOfMemoryError e) {
            if (debug) e.printStackTrace();
            System.err.println("error: " + MemoryCheck.outOfMemory());
            return 1;
        }
    }

    private static boolean causedByOutOfMemory(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) if (t instanceof OutOfMemoryError) return true;
        return false;
    }

    /**
     * The error as one line: line breaks become spaces and other control characters (which a file's tensor or
     * key names may carry) are shown escaped, so they can neither split the line nor drive the terminal.
     */
    static String oneLine(Throwable e) {
        String msg = e instanceof DoraException ? e.getMessage() : e.getClass().getSimpleName() + ": " + e.getMessage();
        if (msg == null) return e.getClass().getSimpleName();
        StringBuilder line = new StringBuilder(msg.length());
        msg.replaceAll("\\R", " ").codePoints().forEach(c -> {
            if (Character.isISOControl(c)) line.append(String.format("\\u%04x", c));
            else line.appendCodePoint(c);
        });
        return line.toString();
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"dora4j " + (v == null ? "development build" : v)};
        }
    }
}
