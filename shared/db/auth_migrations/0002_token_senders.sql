-- The senders (HL7 MSH-3^MSH-4, or a JSON body's application^facility) a lab token may
-- deliver results as. NULL: any sender (tokens created before this column, or without
-- --sender); a bound token's messages under another sender's name are rejected.
ALTER TABLE api_tokens ADD COLUMN senders text[];
