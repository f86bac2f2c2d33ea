# Seed tutorial 003, "多进程间共享字符串变量".  Unchanged.
#encoding=utf-8

from multiprocessing import Process, Manager, Value
from ctypes import c_char_p

def greet(shareStr):
    shareStr.value = shareStr.value + ", World!"

if __name__ == '__main__':
    manager = Manager()
    shareStr = manager.Value(c_char_p, "Hello")
    processList = [Process(target = greet, args = (shareStr,)) for i in range(3)]
    for process in processList:
        process.start()
        process.join()

    print(shareStr.value)
