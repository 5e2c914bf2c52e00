"""Operations tooling for a deployed data-platform stack: ``python -m ops verify|backups|dr-drill``.

Works from the stack outputs (see :mod:`ops.outputs`) and the AWS APIs through boto3; nothing
here imports the Pulumi program.
"""
