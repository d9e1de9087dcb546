-- The base model a response ran: the model as its maker names it (`gpt-5.4`,
-- `claude-opus-4-7`), the same on every cloud, so a cloud-parity comparison can group by it.
-- NULL where nothing said it (an Azure deployment without `base_model` whose response named
-- no model) and in runs stored before this column.

ALTER TABLE responses ADD COLUMN base_model TEXT;
CREATE INDEX responses_by_base_model ON responses (base_model) WHERE base_model IS NOT NULL;
