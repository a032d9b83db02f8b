"""The only package that talks to DynamoDB, SQS and Secrets Manager. Keys are built in `keys`."""
