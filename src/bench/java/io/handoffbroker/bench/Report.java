package io.handoffbroker.bench;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.HdrHistogram.Histogram;
import org.jspecify.annotations.Nullable;

/** The figures of one run, as a markdown report (also printed) and as JSON. */
final class Report {

    enum Verdict {
        PASS("pass"), FAIL("FAIL"), INVALID("INVALID"), INFO("—");

        final String label;

        Verdict(String label) {
            this.label = label;
        }

        static Verdict of(boolean pass) {
            return pass ? PASS : FAIL;
        }
    }

    /**
     * One measured figure.
     *
     * @param latency nanoseconds; null for figures that are not latencies (memory)
     * @param value what is not a latency: a rate, a size ("" when none)
     * @param numbers the same and more as numbers, for the JSON
     */
    record Figure(String key, String title, long samples, @Nullable Histogram latency, String value,
            Map<String, Object> numbers, String target, Verdict verdict, String note) {
    }

    /** One target of the issue, with what was measured against it. */
    record Check(String target, String measured, Verdict verdict) {
    }

    /** A ratio of two figures. */
    record Ratio(String name, double value, String target) {
    }

    /** What one route cost per connection, from runs of it alone: wall time and each process's share. */
    record RouteCost(String route, long count, long failed, double wallUs, double p50Us, double p99Us,
            List<ProcessCost> processes) {
    }

    /**
     * One process's CPU time (all its threads; {@code jitUs} of it its JIT compilers'),
     * wake-ups and preemptions per connection (see {@link Proc.Usage}).
     */
    record ProcessCost(String process, double cpuUs, double jitUs, double wakeups, double preemptions) {
    }

    final Map<String, Object> facts = new LinkedHashMap<>();
    final List<Figure> figures = new ArrayList<>();
    final List<Check> checks = new ArrayList<>();
    final List<Ratio> ratios = new ArrayList<>();
    final List<RouteCost> routeCosts = new ArrayList<>();
    final List<String> notes = new ArrayList<>();

    static double micros(long nanos) {
        return nanos / 1000.0;
    }

    static double p(Histogram h, double percentile) {
        return micros(h.getValueAtPercentile(percentile));
    }

    static String us(double micros) {
        if (micros >= 10_000) {
            return String.format(Locale.ROOT, "%,.0f", micros);
        }
        return String.format(Locale.ROOT, micros >= 100 ? "%.0f" : "%.1f", micros);
    }

    boolean anyFailed() {
        return checks.stream().anyMatch(c -> c.verdict() != Verdict.PASS);
    }

    String markdown() {
        StringBuilder md = new StringBuilder();
        md.append("## Figures\n\n");
        md.append("Latencies in µs.\n\n");
        md.append("| figure | samples | P50 | P99 | P99.9 | max | rate / size | target | result |\n");
        md.append("|---|--:|--:|--:|--:|--:|--:|---|---|\n");
        for (Figure f : figures) {
            Histogram h = f.latency();
            md.append("| ").append(f.title())
                    .append(" | ").append(String.format(Locale.ROOT, "%,d", f.samples()))
                    .append(" | ").append(h == null ? "" : us(p(h, 50)))
                    .append(" | ").append(h == null ? "" : us(p(h, 99)))
                    .append(" | ").append(h == null ? "" : us(p(h, 99.9)))
                    .append(" | ").append(h == null ? "" : us(micros(h.getMaxValue())))
                    .append(" | ").append(f.value())
                    .append(" | ").append(f.target())
                    .append(" | ").append(f.verdict().label)
                    .append(" |\n");
        }
        md.append("\n## Ratios\n\n| ratio | value | target |\n|---|--:|---|\n");
        for (Ratio r : ratios) {
            md.append("| ").append(r.name()).append(" | ")
                    .append(String.format(Locale.ROOT, "%.2f", r.value())).append(" | ").append(r.target())
                    .append(" |\n");
        }
        if (!routeCosts.isEmpty()) {
            appendRouteCosts(md);
        }
        md.append("\n## Targets\n\n| target | measured | result |\n|---|---|---|\n");
        for (Check c : checks) {
            md.append("| ").append(c.target()).append(" | ").append(c.measured()).append(" | ")
                    .append(c.verdict().label).append(" |\n");
        }
        List<String> figureNotes = new ArrayList<>();
        for (Figure f : figures) {
            if (!f.note().isEmpty()) {
                figureNotes.add("**" + f.title() + "**: " + f.note());
            }
        }
        if (!figureNotes.isEmpty() || !notes.isEmpty()) {
            md.append("\n## Notes\n\n");
            figureNotes.forEach(n -> md.append("- ").append(n).append('\n'));
            notes.forEach(n -> md.append("- ").append(n).append('\n'));
        }
        md.append("\n## Run\n\n| | |\n|---|---|\n");
        facts.forEach((k, v) -> md.append("| ").append(k).append(" | ").append(v).append(" |\n"));
        return md.toString();
    }

    private void appendRouteCosts(StringBuilder md) {
        md.append("\n## What a connection costs, by route and process\n\n");
        md.append("Each route alone, one connection after another, after the measured samples. Per connection: "
                + "time on a CPU in µs, all threads (in brackets, the part the JIT compilers took), and "
                + "wake-ups: a thread blocked and was woken again (in brackets, preemptions).\n\n");
        md.append("| route | connections | mean µs | P50 µs | P99 µs |");
        List<ProcessCost> first = routeCosts.getFirst().processes();
        first.forEach(p -> md.append(' ').append(p.process()).append(" CPU µs | ").append(p.process())
                .append(" wake-ups |"));
        md.append(" CPU µs of the three |\n|---|--:|--:|--:|--:|");
        first.forEach(p -> md.append("--:|--:|"));
        md.append("--:|\n");
        for (RouteCost cost : routeCosts) {
            md.append("| ").append(cost.route())
                    .append(" | ").append(String.format(Locale.ROOT, "%,d", cost.count()))
                    .append(cost.failed() > 0 ? " (" + cost.failed() + " failed: INVALID)" : "")
                    .append(" | ").append(us(cost.wallUs()))
                    .append(" | ").append(us(cost.p50Us()))
                    .append(" | ").append(us(cost.p99Us())).append(" |");
            double sum = 0;
            for (ProcessCost p : cost.processes()) {
                sum += p.cpuUs();
                md.append(' ').append(us(p.cpuUs())).append(" (").append(us(p.jitUs())).append(") | ")
                        .append(String.format(Locale.ROOT, "%.1f (%.1f)", p.wakeups(), p.preemptions()))
                        .append(" |");
            }
            md.append(' ').append(us(sum)).append(" |\n");
        }
    }

    String json() {
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("facts", facts);
        List<Object> figureList = new ArrayList<>();
        for (Figure f : figures) {
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("key", f.key());
            o.put("title", f.title());
            o.put("samples", f.samples());
            Histogram h = f.latency();
            if (h != null) {
                o.put("p50_us", round(p(h, 50)));
                o.put("p99_us", round(p(h, 99)));
                o.put("p999_us", round(p(h, 99.9)));
                o.put("max_us", round(micros(h.getMaxValue())));
                o.put("mean_us", round(h.getMean() / 1000.0));
            }
            o.putAll(f.numbers());
            o.put("target", f.target());
            o.put("result", f.verdict().name().toLowerCase(Locale.ROOT));
            o.put("note", f.note());
            figureList.add(o);
        }
        root.put("figures", figureList);
        List<Object> ratioList = new ArrayList<>();
        for (Ratio r : ratios) {
            ratioList.add(Map.of("name", r.name(), "value", round(r.value()), "target", r.target()));
        }
        root.put("ratios", ratioList);
        List<Object> costList = new ArrayList<>();
        for (RouteCost cost : routeCosts) {
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("route", cost.route());
            o.put("connections", cost.count());
            o.put("failed", cost.failed());
            o.put("mean_us", round(cost.wallUs()));
            o.put("p50_us", round(cost.p50Us()));
            o.put("p99_us", round(cost.p99Us()));
            for (ProcessCost p : cost.processes()) {
                Map<String, Object> used = new LinkedHashMap<>();
                used.put("cpu_us", round(p.cpuUs()));
                used.put("jit_cpu_us", round(p.jitUs()));
                used.put("wakeups", round(p.wakeups()));
                used.put("preemptions", round(p.preemptions()));
                o.put(p.process(), used);
            }
            costList.add(o);
        }
        root.put("route_costs", costList);
        List<Object> checkList = new ArrayList<>();
        for (Check c : checks) {
            checkList.add(Map.of("target", c.target(), "measured", c.measured(),
                    "result", c.verdict().name().toLowerCase(Locale.ROOT)));
        }
        root.put("targets", checkList);
        root.put("notes", notes);
        StringBuilder out = new StringBuilder();
        write(out, root, "");
        return out.append('\n').toString();
    }

    static double round(double value) {
        return Math.round(value * 100.0) / 100.0;
    }

    private static void write(StringBuilder out, @Nullable Object value, String indent) {
        switch (value) {
            case null -> out.append("null");
            case Map<?, ?> map -> {
                out.append("{");
                String inner = indent + "  ";
                boolean first = true;
                for (Map.Entry<?, ?> e : map.entrySet()) {
                    out.append(first ? "\n" : ",\n").append(inner);
                    string(out, String.valueOf(e.getKey()));
                    out.append(": ");
                    write(out, e.getValue(), inner);
                    first = false;
                }
                out.append(first ? "}" : "\n" + indent + "}");
            }
            case List<?> list -> {
                out.append("[");
                String inner = indent + "  ";
                boolean first = true;
                for (Object item : list) {
                    out.append(first ? "\n" : ",\n").append(inner);
                    write(out, item, inner);
                    first = false;
                }
                out.append(first ? "]" : "\n" + indent + "]");
            }
            case Double d when d.isNaN() || d.isInfinite() -> out.append("null");
            case Number n -> out.append(n);
            case Boolean b -> out.append(b);
            default -> string(out, value.toString());
        }
    }

    private static void string(StringBuilder out, String s) {
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    if (c < 0x20) {
                        out.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        out.append('"');
    }
}
