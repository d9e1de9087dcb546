-- What the cloud said about the deployment behind a response, beside its reported model and
-- region: the backend configuration (`system_fingerprint`, OpenAI and Azure) and the capacity
-- tier that served it (`service_tier`: OpenAI `default`/`flex`/`priority`, Anthropic
-- `standard`/`priority`). A session flags a target where either changed part-way. NULL where
-- the cloud did not say and in responses stored before these columns.

ALTER TABLE responses ADD COLUMN system_fingerprint TEXT;
ALTER TABLE responses ADD COLUMN service_tier TEXT;
