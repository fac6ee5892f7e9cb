package dev.dora4j.data;

/** One sequence-classification record: a text and its label as written in the data file. */
public record LabeledText(String source, String text, String label) {}
