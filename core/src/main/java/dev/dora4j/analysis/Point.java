package dev.dora4j.analysis;

/**
 * How far one module's weight has moved from the pretrained weight at one step of one run, in the DoRA
 * paper's decomposition (section 3.2), with output rows as the paper's columns:
 * {@code deltaM = mean_rows |‖W_t,row‖ − ‖W_0,row‖|} and {@code deltaD = mean_rows (1 − cos(W_t,row, W_0,row))}.
 *
 * @param run    the run's label (its directory name, made unique)
 * @param method dora, lora or full
 * @param step   the optimizer step of the checkpoint or final output
 * @param layer  the transformer layer index
 * @param module the module's short name, e.g. q_proj
 */
public record Point(String run, String method, long step, int layer, String module, double deltaM, double deltaD) {}
