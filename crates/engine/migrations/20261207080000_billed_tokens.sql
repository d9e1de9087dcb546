-- The tokens a cloud bills where it meters them apart from the model's own usage (Bedrock's
-- amazon-bedrock-invocationMetrics). Both are kept; cost uses the billed counts when present.
-- A refusal needs no column: finish_reason = 'refusal' marks it on every cloud.

ALTER TABLE responses ADD COLUMN billed_input_tokens INTEGER;
ALTER TABLE responses ADD COLUMN billed_output_tokens INTEGER;
