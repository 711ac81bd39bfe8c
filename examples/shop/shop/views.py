from django.http import JsonResponse

from . import ops


def health(request):
    return JsonResponse(ops.health())


def instances(request):
    return JsonResponse({"registered": ops.registered_instances(), "running": [i["name"] for i in ops.running_instances()]})
