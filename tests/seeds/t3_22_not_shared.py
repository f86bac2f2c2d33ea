# Seed tutorial 003, "未使用共享变量".  Unchanged.
#数据在子进程运行的时候被改变;但是主进程打印的数据仍为原值,互相独立不共享

#encoding=utf-8

from multiprocessing import Process

def f(n, a):
    n = n+1
    for i in range(len(a)):
        a[i] = -a[i]

if __name__ == '__main__':
    num = 0
    arr =list(range(10))
    p = Process(target = f, args = (num, arr))
    p.start()
    p.join()
    print(num)
    print(arr[:])
