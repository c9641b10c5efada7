package io.handoffbroker.bench;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** What Linux tells about a process and the machine, from /proc. */
final class Proc {

    private Proc() {
    }

    /** The numeric fields of /proc/PID/status (VmRSS, VmHWM, RssAnon, RssFile, Threads, ...), sizes in KiB. */
    static Map<String, Long> status(long pid) throws IOException {
        Map<String, Long> fields = new LinkedHashMap<>();
        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
            int colon = line.indexOf(':');
            if (colon < 0) {
                continue;
            }
            String[] value = line.substring(colon + 1).trim().split("\\s+");
            if (value.length >= 1 && value[0].matches("\\d+")) {
                fields.put(line.substring(0, colon), Long.parseLong(value[0]));
            }
        }
        return fields;
    }

    /** Open descriptors of the process. */
    static int descriptors(long pid) throws IOException {
        int count = 0;
        try (DirectoryStream<Path> fds = Files.newDirectoryStream(Path.of("/proc", Long.toString(pid), "fd"))) {
            for (Path ignored : fds) {
                count++;
            }
        }
        return count;
    }

    /** The soft limit of open files of the process, or -1 if unknown. */
    static long openFilesLimit(long pid) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "limits"))) {
                if (line.startsWith("Max open files")) {
                    String soft = line.substring("Max open files".length()).trim().split("\\s+")[0];
                    return soft.equals("unlimited") ? Long.MAX_VALUE : Long.parseLong(soft);
                }
            }
        } catch (IOException | RuntimeException ignored) {
            // Unknown.
        }
        return -1;
    }

    /** The first line of a /proc file, or "?" */
    static String firstLine(String file) {
        try {
            return Files.readAllLines(Path.of(file)).stream().findFirst().orElse("?").trim();
        } catch (IOException e) {
            return "?";
        }
    }

    /** A field of /proc/cpuinfo or /proc/meminfo ({@code "model name"}, {@code "MemTotal"}), or "?". */
    static String field(String file, String name) {
        try {
            for (String line : Files.readAllLines(Path.of(file))) {
                int colon = line.indexOf(':');
                if (colon > 0 && line.substring(0, colon).trim().equals(name)) {
                    return line.substring(colon + 1).trim();
                }
            }
        } catch (IOException ignored) {
            // Unknown.
        }
        return "?";
    }
}
